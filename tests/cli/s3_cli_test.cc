// S3 remotes end to end through the vrepo binary, against the suite's radosgw: settings per
// remote, push, clone, a lazy clone, fsck --remote, and the one-line errors for a bad URL and bad
// keys.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>

#include "cli/cli_support.h"
#include "remote/s3_support.h"

namespace vrepo::testing {
namespace {

TEST_CASE("s3 cli: remote add with its endpoint, push, clone, fsck --remote") {
  auto settings = FreshBucket();
  if (!settings) return;
  const std::string url = S3UrlOf(*settings) + "/datasets/team";
  TempDir dir;
  const std::string a = dir / "a";
  WriteFile(a + "/labels.csv", "path,label\nimg/0.png,cat\n");
  for (int i = 0; i < 5; ++i)
    WriteFile(a + "/img/" + std::to_string(i) + ".png", RandomBytes(4000, i));
  MustRun(dir.path(), {"init", "a"});
  MustRun(a, {"add", "."});
  MustRun(a, {"commit", "-m", "first"});
  // The endpoint comes from the remote's own setting here, not from the environment.
  const std::string endpoint = std::getenv("AWS_ENDPOINT_URL");
  ::unsetenv("AWS_ENDPOINT_URL");
  MustRun(a, {"remote", "add", "origin", url, "--endpoint", endpoint, "--path-style", "true"});
  const std::string pushed = MustRun(a, {"push", "--json"}).out;
  CHECK(pushed.find("\"ok\":true") != std::string::npos);
  CHECK(pushed.find("\"objects\":6") != std::string::npos);
  CHECK(pushed.find("\"s3\":{\"requests\":") != std::string::npos);
  CHECK(pushed.find(settings->secret_key) == std::string::npos);
  CHECK(MustRun(a, {"push"}).err == "Everything up-to-date\n");

  ::setenv("AWS_ENDPOINT_URL", endpoint.c_str(), 1);
  MustRun(dir.path(), {"clone", url, "b"});
  CHECK(ReadFileOrDie(dir / "b/img/3.png") == ReadFileOrDie(a + "/img/3.png"));
  const CommandResult fsck = RunVrepo(dir / "b", {"fsck", "--remote", "origin"});
  CHECK(fsck.exit_code == 0);
  CHECK(fsck.err.find(url + ": 1 packs") == 0);
  CHECK(fsck.err.find("1 refs: ok") != std::string::npos);

  // A lazy clone from S3 takes the table now and an image when it is read.
  MustRun(dir.path(), {"clone", "--lazy", url, "c"});
  CHECK(Exists(dir / "c/labels.csv"));
  CHECK_FALSE(Exists(dir / "c/img/3.png"));
  MustRun(dir / "c", {"checkout", "HEAD", "--", "img/3.png"});
  CHECK(ReadFileOrDie(dir / "c/img/3.png") == ReadFileOrDie(a + "/img/3.png"));
  CHECK_FALSE(Exists(dir / "c/img/4.png"));
}

TEST_CASE("s3 cli: a bad s3 URL and wrong keys fail in one line") {
  auto settings = FreshBucket();
  if (!settings) return;
  TempDir dir;
  MustRun(dir.path(), {"init"});
  const CommandResult bad = RunVrepo(dir.path(), {"remote", "add", "x", "s3://"});
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("s3://") != std::string::npos);
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);

  WriteFile(dir / "f", "data");
  MustRun(dir.path(), {"add", "."});
  MustRun(dir.path(), {"commit", "-m", "one"});
  MustRun(dir.path(), {"remote", "add", "origin", S3UrlOf(*settings)});
  ::setenv("AWS_SECRET_ACCESS_KEY", "wrongSecretKey0000000000000000000000000", 1);
  const CommandResult denied = RunVrepo(dir.path(), {"push"});
  CHECK(denied.exit_code == 128);
  CHECK(denied.err.find("vrepo: push to " + S3UrlOf(*settings)) == 0);
  CHECK(denied.err.find("403") != std::string::npos);
  CHECK(denied.err.find("wrongSecret") == std::string::npos);
  CHECK(std::count(denied.err.begin(), denied.err.end(), '\n') == 1);
}

}  // namespace
}  // namespace vrepo::testing
