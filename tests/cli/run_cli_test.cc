// vrepo run -- CMD: the real binary running real commands; `vrepo reproduce` of its runs
// (through vrepo-train, skipped where it was not built); examples/pytorch_train.py with the
// system's python and torch (skipped without them).
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "dataset/dataset_fixture.h"

namespace vrepo::testing {
namespace {

using json = nlohmann::json;

bool HaveVrepoTrain() {
  std::string bin = VREPO_BINARY;
  return std::filesystem::exists(bin.substr(0, bin.rfind('/')) + "/vrepo-train");
}

struct RunCliRepo {
  TempDir dir;
  RunCliRepo() {
    MustRun(dir.path(), {"init"});
    WriteFile(dir / "images/a.png", "image a");
    WriteFile(dir / "labels.csv", "path,label\nimages/a.png,cat\n");
    MustRun(dir.path(), {"add", "."});
    MustRun(dir.path(), {"commit", "-m", "data"});
  }
  std::vector<std::string> Runs() {
    return Lines(Shell("git -C '" + dir.path() +
                       "/.vrepo/meta' for-each-ref --format='%(refname)' refs/runs/"));
  }
};

TEST_CASE("cli: vrepo run records a command's outputs and passes its exit code") {
  RunCliRepo r;
  CommandResult res =
      RunVrepo(r.dir.path(), {"run", "--name", "s1", "--", "sh", "-c",
                              "echo hello; cp \"$VREPO_DATA/labels.csv\" \"$VREPO_OUTPUT/\"; "
                              "echo '{\"epoch\":1,\"loss\":1.5}' >> \"$VREPO_METRICS\""});
  INFO(res.err);
  REQUIRE(res.exit_code == 0);
  CHECK(res.out.find("hello\n") == 0);  // the command's stdout passes through
  CHECK(res.out.find("run s1 recorded: ") != std::string::npos);
  CHECK(res.out.find("status: completed (exit 0)") != std::string::npos);
  CHECK(res.out.find("outputs: 1 file") != std::string::npos);
  CHECK(res.out.find("  labels.csv  ") != std::string::npos);
  CHECK(res.out.find("metrics: 1 line\n") != std::string::npos);
  CHECK(Shell("git -C '" + r.dir.path() + "/.vrepo/meta' show refs/runs/s1:outputs/labels.csv")
            .find("sha256:") == 0);

  // --json: the command's stdout moves to stderr, so stdout is one document.
  res = RunVrepo(r.dir.path(),
                 {"run", "--json", "--name", "s2", "--", "sh", "-c", "echo noise; exit 7"});
  CHECK(res.exit_code == 7);
  CHECK(res.err.find("noise") != std::string::npos);
  json doc = json::parse(res.out);
  CHECK(doc["name"] == "s2");
  CHECK(doc["ref"] == "refs/runs/s2");
  CHECK(doc["status"] == "failed");
  CHECK(doc["exit_code"] == 7);
  CHECK(doc["signal"].is_null());
  CHECK(doc["outputs"].empty());
  CHECK(doc["metrics_lines"] == 0);
  CHECK(doc["commit"].get<std::string>().size() == 40);

  // A signal: 128 + its number, as a shell says.
  res = RunVrepo(r.dir.path(), {"run", "--", "sh", "-c", "kill -KILL $$"});
  CHECK(res.exit_code == 128 + 9);
  CHECK(res.out.find("status: failed (signal 9)") != std::string::npos);
  CHECK(r.Runs().size() == 3);
}

TEST_CASE("cli: Ctrl-C reaches the command once and the run is recorded as interrupted") {
  RunCliRepo r;
  const std::string started = r.dir / "started";
  pid_t pid = SpawnVrepo(
      r.dir.path(),
      {"run", "--name", "stopped", "--", "sh", "-c", "touch '" + started + "'; sleep 20"},
      r.dir / "out", r.dir / "err");
  for (int i = 0; i < 200 && !Exists(started); ++i) ::usleep(20'000);
  REQUIRE(Exists(started));
  ::kill(pid, SIGINT);
  CHECK(WaitPid(pid) == 128 + SIGINT);  // sh and sleep die of the forwarded SIGINT
  const std::string out = ReadFileOrDie(r.dir / "out");
  INFO(out << ReadFileOrDie(r.dir / "err"));
  CHECK(out.find("run stopped recorded") != std::string::npos);
  CHECK(out.find("status: interrupted (signal 2)") != std::string::npos);
}

TEST_CASE("cli: vrepo run refuses bad input in one line and records nothing") {
  RunCliRepo r;
  MustRun(r.dir.path(), {"run", "--name", "taken", "--", "true"});
  WriteFile(r.dir / "full/x", "x");
  const std::string marker = r.dir / "ran";
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string err;
  };
  const std::vector<std::string> cmd = {"--", "touch", marker};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.begin(), "run");
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  };
  const Case cases[] = {
      {with({"--rev", "nope"}), 128, "vrepo: run: unknown revision 'nope'\n"},
      {with({"--labels", "missing.csv"}), 128, "missing.csv"},
      {with({"--output", "full"}), 128,
       "vrepo: run: " + (r.dir / "full") + ": exists and is not empty\n"},
      {with({"--name", "taken"}), 128, "vrepo: run: run name 'taken' already exists\n"},
      {{"run"},
       129,
       "vrepo: run: no command given: vrepo run [OPTIONS] -- CMD ARGS... [see 'vrepo run "
       "--help']\n"},
      {{"run", "--", "/no/such/program"}, 128, "vrepo: run: cannot run '/no/such/program'"},
  };
  for (const Case& c : cases) {
    CommandResult res = RunVrepo(r.dir.path(), c.args);
    INFO(c.args[1] << ": " << res.err);
    CHECK(res.exit_code == c.code);
    CHECK(res.err.find(c.err) != std::string::npos);
    CHECK(std::count(res.err.begin(), res.err.end(), '\n') == 1);
  }
  CHECK(!Exists(marker));
  CHECK(r.Runs().size() == 1);
}

TEST_CASE("cli: vrepo reproduce re-runs a command run and names what differs") {
  if (!HaveVrepoTrain()) {
    MESSAGE("skipped: built without libtorch (vrepo-train)");
    return;
  }
  RunCliRepo r;
  MustRun(r.dir.path(), {"run", "--name", "same", "--", "sh", "-c",
                         "cp \"$VREPO_DATA/labels.csv\" \"$VREPO_OUTPUT/model.bin\"; "
                         "echo '{\"epoch\":1,\"loss\":0.5}' >> \"$VREPO_METRICS\""});
  CommandResult res = RunVrepo(r.dir.path(), {"reproduce", "same"});
  INFO(res.out << res.err);
  CHECK(res.exit_code == 0);
  CHECK(res.out.find("output model.bin content id") != std::string::npos);
  CHECK(res.out.find("reproduced: every required field matched") != std::string::npos);

  MustRun(r.dir.path(), {"run", "--name", "varies", "--", "sh", "-c",
                         "date +%s%N > \"$VREPO_OUTPUT/model.bin\""});
  res = RunVrepo(r.dir.path(), {"reproduce", "--json", "varies"});
  CHECK(res.exit_code == 1);
  json doc = json::parse(res.out);
  CHECK(doc["kind"] == "command");
  CHECK(doc["ok"] == false);
  CHECK(doc["run"]["name"] == "varies");
  bool named = false;
  for (const json& f : doc["fields"]) {
    if (f["field"] == "output model.bin content id")
      named = f["match"] == false && f["required"] == true;
  }
  CHECK(named);
}

TEST_CASE("cli: examples/pytorch_train.py runs under vrepo run and reproduces") {
  if (std::system("/usr/bin/python3 -c 'import torch, PIL, numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 cannot import torch, PIL and numpy");
    return;
  }
  TempDir t;
  MustRun(t.path(), {"init"});
  ExportFashionMnist(t.path(), 60);
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "60 images"});
  const std::string script = std::string(VREPO_SOURCE_DIR) + "/examples/pytorch_train.py";
  CommandResult res =
      RunVrepo(t.path(), {"run", "--json", "--name", "cnn", "--labels", "labels.csv", "--",
                          "/usr/bin/python3", script, "--epochs", "1"});
  INFO(res.err);
  REQUIRE(res.exit_code == 0);
  json doc = json::parse(res.out);
  CHECK(doc["status"] == "completed");
  CHECK(doc["metrics_lines"] == 1);
  REQUIRE(doc["outputs"].size() == 1);
  CHECK(doc["outputs"][0]["path"] == "model.pt");
  if (!HaveVrepoTrain()) {
    MESSAGE("reproduce skipped: built without libtorch (vrepo-train)");
    return;
  }
  res = RunVrepo(t.path(), {"reproduce", "--json", "cnn"});
  INFO(res.out);
  CHECK(res.exit_code == 0);
  json repro = json::parse(res.out);
  CHECK(repro["ok"] == true);
  for (const json& f : repro["fields"]) {
    if (f["field"] == "torch") CHECK(f["recorded"].is_string());
  }
}

}  // namespace
}  // namespace vrepo::testing
