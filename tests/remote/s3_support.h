// The suite's S3 server for the remote tests: its settings, fresh buckets on it, and its
// endpoint and keys in the process environment (where the S3 transport looks, as the AWS
// tools do). Test helpers; not thread-safe.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "vrepo/remote/s3_client.h"

namespace vrepo {

// The env file of the suite's S3 server: the fixture's (compile definition) or, for a run by
// hand against a server started elsewhere, $VREPO_S3_ENV_FILE. Empty when there is neither.
inline std::string S3EnvFilePath() {
#ifdef VREPO_S3_ENV_FILE
  return VREPO_S3_ENV_FILE;
#else
  const char* path = std::getenv("VREPO_S3_ENV_FILE");
  return path == nullptr ? "" : path;
#endif
}

// Settings for a fresh bucket on the test server (created here), or nullopt without one.
inline std::optional<S3Settings> FreshBucket(const std::string& prefix = "") {
  const std::string path = S3EnvFilePath();
  if (path.empty()) {
    MESSAGE("no S3 server for this build (VREPO_S3_ENV_FILE): skipped");
    return std::nullopt;
  }
  std::ifstream in(path);
  INFO("the S3 server's env file: ", path);
  REQUIRE(in.good());
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  // The S3 transport reads its settings where the AWS tools do.
  for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
  S3Settings settings;
  settings.endpoint = env["AWS_ENDPOINT_URL"];
  settings.region = env["AWS_REGION"].empty() ? "us-east-1" : env["AWS_REGION"];
  settings.access_key = env["AWS_ACCESS_KEY_ID"];
  settings.secret_key = env["AWS_SECRET_ACCESS_KEY"];
  settings.path_style = true;
  static std::mt19937_64 random{std::random_device{}()};
  settings.bucket =
      "vrepo-client-" + std::to_string(::getpid()) + "-" + std::to_string(random() % 1000000000);
  settings.prefix = prefix;
  S3Client creator(settings);
  const Status st = creator.CreateBucket();
  REQUIRE_MESSAGE(st.ok(), st.ToString());
  return settings;
}

// "s3://BUCKET[/PREFIX]" of `settings`.
inline std::string S3UrlOf(const S3Settings& settings) {
  return "s3://" + settings.bucket + (settings.prefix.empty() ? "" : "/" + settings.prefix);
}

}  // namespace vrepo
