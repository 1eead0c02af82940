// S3 settings resolution (vrepo/remote/s3_settings.h): the AWS conventions' order of
// precedence over an environment given as a map and AWS files in a temporary home.
#include "vrepo/remote/s3_settings.h"

#include <doctest/doctest.h>

#include <string>

#include "testing.h"

namespace vrepo {
namespace {

using S3TestEnv = std::map<std::string, std::string>;

TEST_CASE("s3 url splits into bucket and prefix") {
  S3Settings settings;
  REQUIRE(ParseS3Url("s3://team-data/datasets/mnist/", &settings).ok());
  CHECK(settings.bucket == "team-data");
  CHECK(settings.prefix == "datasets/mnist");
  REQUIRE(ParseS3Url("s3://team-data", &settings).ok());
  CHECK(settings.prefix.empty());
  CHECK_FALSE(ParseS3Url("http://team-data", &settings).ok());
  CHECK_FALSE(ParseS3Url("s3://a", &settings).ok());
  CHECK_FALSE(ParseS3Url("s3://bad bucket/x", &settings).ok());
  CHECK_FALSE(ParseS3Url("s3://bucket//x", &settings).ok());
}

TEST_CASE("s3 settings: environment variables win over the profile, and overrides over both") {
  testing::TempDir home;
  testing::WriteFile(
      home / ".aws/credentials",
      "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
  testing::WriteFile(home / ".aws/config",
                     "[default]\nregion = eu-west-1\nendpoint_url = http://profile:9000\n");
  S3TestEnv env = {
      {"AWS_ACCESS_KEY_ID", "ENVKEY"},          {"AWS_SECRET_ACCESS_KEY", "envsecret"},
      {"AWS_SESSION_TOKEN", "envtoken"},        {"AWS_DEFAULT_REGION", "us-west-2"},
      {"AWS_ENDPOINT_URL", "http://generic:1"}, {"AWS_ENDPOINT_URL_S3", "http://s3only:2/"}};
  S3Settings settings;
  REQUIRE(ResolveS3Settings(env, home.path(), {}, &settings).ok());
  CHECK(settings.access_key == "ENVKEY");
  CHECK(settings.secret_key == "envsecret");
  CHECK(settings.session_token == "envtoken");
  CHECK(settings.region == "us-west-2");
  CHECK(settings.endpoint == "http://s3only:2");
  CHECK(settings.path_style);

  env["AWS_REGION"] = "ap-south-1";
  env.erase("AWS_ENDPOINT_URL_S3");
  REQUIRE(ResolveS3Settings(env, home.path(), {}, &settings).ok());
  CHECK(settings.region == "ap-south-1");
  CHECK(settings.endpoint == "http://generic:1");

  S3Overrides overrides;
  overrides.endpoint = "https://override:3";
  overrides.region = "override-region";
  overrides.path_style = false;
  REQUIRE(ResolveS3Settings(env, home.path(), overrides, &settings).ok());
  CHECK(settings.endpoint == "https://override:3");
  CHECK(settings.region == "override-region");
  CHECK_FALSE(settings.path_style);
}

TEST_CASE("s3 settings: a named profile from ~/.aws, nested blocks skipped") {
  testing::TempDir home;
  testing::WriteFile(home / ".aws/credentials",
                     "# team keys\n[default]\naws_access_key_id = D\naws_secret_access_key = d\n"
                     "[team]\naws_access_key_id=TEAMKEY\naws_secret_access_key=teamsecret\n"
                     "aws_session_token = teamtoken\n");
  testing::WriteFile(home / ".aws/config",
                     "[default]\nregion = eu-west-1\n\n[profile team]\nregion = eu-north-1\n"
                     "s3 =\n  addressing_style = path\n  max_concurrent_requests = 4\n"
                     "endpoint_url = http://ceph:7480\n");
  S3Settings settings;
  REQUIRE(ResolveS3Settings({{"AWS_PROFILE", "team"}}, home.path(), {}, &settings).ok());
  CHECK(settings.access_key == "TEAMKEY");
  CHECK(settings.secret_key == "teamsecret");
  CHECK(settings.session_token == "teamtoken");
  CHECK(settings.region == "eu-north-1");
  CHECK(settings.endpoint == "http://ceph:7480");
  CHECK(settings.path_style);

  REQUIRE(ResolveS3Settings({}, home.path(), {}, &settings).ok());
  CHECK(settings.access_key == "D");
  CHECK(settings.region == "eu-west-1");
  // AWS itself: no endpoint, virtual-hosted buckets.
  CHECK(settings.endpoint.empty());
  CHECK_FALSE(settings.path_style);
}

TEST_CASE("s3 settings: us-east-1 when nothing names a region") {
  testing::TempDir home;
  S3Settings settings;
  REQUIRE(ResolveS3Settings({{"AWS_ACCESS_KEY_ID", "K"}, {"AWS_SECRET_ACCESS_KEY", "s"}},
                            home.path(), {}, &settings)
              .ok());
  CHECK(settings.region == "us-east-1");
}

TEST_CASE("s3 settings: missing credentials say what was tried") {
  testing::TempDir home;
  S3Settings settings;
  settings.bucket = "team-data";
  Status st = ResolveS3Settings({{"AWS_PROFILE", "ci"}}, home.path(), {}, &settings);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("team-data") != std::string::npos);
  CHECK(st.message().find("AWS_ACCESS_KEY_ID") != std::string::npos);
  CHECK(st.message().find("'ci'") != std::string::npos);
  CHECK(st.message().find(home / ".aws/credentials") != std::string::npos);
  // Half a key pair from the environment is not enough, and its secret is never echoed.
  st = ResolveS3Settings({{"AWS_SECRET_ACCESS_KEY", "topsecret"}}, home.path(), {}, &settings);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("topsecret") == std::string::npos);
}

TEST_CASE("s3 settings: corrupt AWS files are named with their line") {
  testing::TempDir home;
  S3Settings settings;
  testing::WriteFile(home / ".aws/config", "[default]\nregion = x\n[profile broken\n");
  Status st = ResolveS3Settings({}, home.path(), {}, &settings);
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK(st.message().rfind(home / ".aws/config:3: ", 0) == 0);

  testing::WriteFile(home / ".aws/config", "[default]\n");
  testing::WriteFile(home / ".aws/credentials", "aws_access_key_id = K\n");
  st = ResolveS3Settings({}, home.path(), {}, &settings);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().rfind(home / ".aws/credentials:1: ", 0) == 0);

  testing::WriteFile(home / ".aws/credentials", "[default]\njust some words\n");
  st = ResolveS3Settings({}, home.path(), {}, &settings);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().rfind(home / ".aws/credentials:2: ", 0) == 0);

  testing::WriteFile(home / ".aws/credentials",
                     "[default]\naws_access_key_id = K\naws_secret_access_key = s\n");
  st = ResolveS3Settings({{"AWS_ENDPOINT_URL", "ftp://x"}}, home.path(), {}, &settings);
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("ftp://x") != std::string::npos);
}

}  // namespace
}  // namespace vrepo
