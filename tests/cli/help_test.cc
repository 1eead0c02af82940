// Every command documents itself; usage errors exit 129 and point at --help.
#include "cli/cli_support.h"

namespace vrepo::testing {

const std::vector<std::string> kCommands = {
    "init",   "add",    "rm",       "mv",  "status",  "commit",    "log",     "show", "diff",
    "branch", "switch", "checkout", "tag", "restore", "rev-parse", "ls-tree", "fsck", "gc"};

TEST_CASE("cli: --help lists every command, and each command's --help describes it") {
  TempDir t;
  CommandResult top = RunVrepo(t.path(), {"--help"});
  CHECK(top.exit_code == 0);
  for (const auto& cmd : kCommands) {
    INFO(cmd);
    CHECK(top.out.find("  " + cmd + " ") != std::string::npos);
    CommandResult r = RunVrepo(t.path(), {cmd, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("vrepo " + cmd) != std::string::npos);
    CHECK(r.out.size() > 200);  // a paragraph, not just a usage line
  }
}

TEST_CASE("cli: --version names the version") {
  TempDir t;
  CommandResult r = RunVrepo(t.path(), {"--version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("vrepo version " VREPO_VERSION, 0) == 0);
}

TEST_CASE("cli: usage errors exit 129 with one line pointing at --help") {
  TempDir t;
  struct Case {
    std::vector<std::string> args;
    std::string hint;
  };
  for (const auto& c : std::vector<Case>{{{"commit"}, "see 'vrepo commit --help'"},
                                         {{"add"}, "see 'vrepo add --help'"},
                                         {{"log", "--bogus"}, "see 'vrepo log --help'"},
                                         {{"log", "-n", "many"}, "see 'vrepo log --help'"},
                                         {{"frobnicate"}, "See 'vrepo --help'"},
                                         {{}, "see 'vrepo --help'"}}) {
    CommandResult r = RunVrepo(t.path(), c.args);
    INFO(r.err);
    CHECK(r.exit_code == 129);
    CHECK(Lines(r.err).size() == 1);
    CHECK(r.err.find(c.hint) != std::string::npos);
  }
}

TEST_CASE("cli: a mistyped command names the closest commands, as git does") {
  TempDir t;
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  for (const auto& c : std::vector<Case>{
           {{"stauts"}, "vrepo: 'stauts' is not a vrepo command. Did you mean 'status'?\n"},
           {{"comit", "-m", "x"},
            "vrepo: 'comit' is not a vrepo command. Did you mean 'commit'?\n"},
           {{"-C", ".", "--wait", "lgo"},
            "vrepo: 'lgo' is not a vrepo command. Did you mean 'log'?\n"},
           {{"trian"}, "vrepo: 'trian' is not a vrepo command. Did you mean 'train'?\n"},
           {{"xyz"}, "vrepo: 'xyz' is not a vrepo command. See 'vrepo --help'.\n"},
           {{"help", "nosuch"}, "vrepo: 'nosuch' is not a vrepo command. See 'vrepo --help'.\n"},
           {{"help", "shwo"}, "vrepo: 'shwo' is not a vrepo command. Did you mean 'show'?\n"},
       }) {
    CommandResult r = RunVrepo(t.path(), c.args);
    CHECK(r.err == c.err);
    CHECK(r.exit_code == 129);
    CHECK(r.out == "");
  }
}

TEST_CASE("cli: help lists the commands, help CMD is CMD --help") {
  TempDir t;
  CommandResult top = RunVrepo(t.path(), {"help"});
  CHECK(top.exit_code == 0);
  CHECK(top.out == RunVrepo(t.path(), {"--help"}).out);
  for (const std::string cmd : {"log", "status", "dataset", "train", "runs"}) {
    INFO(cmd);
    CommandResult via_help = RunVrepo(t.path(), {"help", cmd});
    CommandResult direct = RunVrepo(t.path(), {cmd, "--help"});
    CHECK(via_help.exit_code == direct.exit_code);
    CHECK(via_help.out == direct.out);
    CHECK(via_help.err == direct.err);
  }
  CHECK(RunVrepo(t.path(), {"help", "log"}).out.find("vrepo log") != std::string::npos);
}

TEST_CASE("cli: a well-formed value outside its range is an invalid setting: exit 128") {
  TempDir t;
  for (const auto& args : std::vector<std::vector<std::string>>{{"fetch", "--jobs", "0"},
                                                                {"clone", "--jobs", "65", "a", "b"},
                                                                {"serve", "--threads", "0", "."}}) {
    CommandResult r = RunVrepo(t.path(), args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 128);
    CHECK(Lines(r.err).size() == 1);
    CHECK(r.err.find("not in range") != std::string::npos);
  }
}

TEST_CASE("cli: version --json names the --json vocabulary's version") {
  TempDir t;
  CommandResult r = MustRun(t.path(), {"version", "--json"});
  Json j = Json::Parse(r.out);
  CHECK(j["version"].str == VREPO_VERSION);
  CHECK(j["json_schema"].number == 2);
  CHECK(MustRun(t.path(), {"version"}).out == MustRun(t.path(), {"--version"}).out);
}

}  // namespace vrepo::testing
