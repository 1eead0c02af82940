// vrepo train|runs|reproduce|eval are run by vrepo-train beside the vrepo binary; a build
// without it says so in one line.
#include <filesystem>

#include "cli/cli_support.h"

namespace vrepo::testing {

TEST_CASE("cli: --help lists the training commands") {
  TempDir t;
  CommandResult top = RunVrepo(t.path(), {"--help"});
  CHECK(top.exit_code == 0);
  for (const char* cmd : {"train", "runs", "reproduce", "eval"}) {
    INFO(cmd);
    CHECK(top.out.find("  " + std::string(cmd) + " ") != std::string::npos);
  }
}

TEST_CASE("cli: training commands without vrepo-train fail in one line") {
  TempDir t;
  // A vrepo alone in a folder: /proc/self/exe points here, where no vrepo-train is.
  std::filesystem::copy_file(VREPO_BINARY, t / "vrepo");
  std::filesystem::permissions(t / "vrepo", std::filesystem::perms::owner_all);
  std::string cmd =
      "'" + (t / "vrepo") + "' train --labels x.csv >'" + (t / "out") + "' 2>'" + (t / "err") + "'";
  int status = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(status) == 128);
  CHECK(ReadFileOrDie(t / "err") ==
        "vrepo: train: this vrepo was built without libtorch; install libtorch-dev and rebuild\n");
  CHECK(ReadFileOrDie(t / "out").empty());
}

TEST_CASE("cli: vrepo train --help is vrepo-train's help") {
  std::string bin = VREPO_BINARY;
  if (!std::filesystem::exists(bin.substr(0, bin.rfind('/')) + "/vrepo-train")) {
    MESSAGE("skipped: built without libtorch");
    return;
  }
  TempDir t;
  CommandResult r = RunVrepo(t.path(), {"train", "--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("Usage: vrepo train") != std::string::npos);
  CHECK(r.out.find("--labels") != std::string::npos);
  CommandResult runs = RunVrepo(t.path(), {"runs", "show", "--help"});
  CHECK(runs.exit_code == 0);
  CHECK(runs.out.find("vrepo runs show") != std::string::npos);
}

}  // namespace vrepo::testing
