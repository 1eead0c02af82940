// Command runs (runs/command_run.h): a real repository, real shell commands, the record read
// back from history and the store.
#include "vrepo/runs/command_run.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "must.h"
#include "testing.h"
#include "vrepo/repo/repository.h"
#include "vrepo/runs/run_commit.h"
#include "vrepo/util/file.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::testing {
namespace {

using json = nlohmann::json;

struct CommandRunRepo {
  TempDir dir;
  std::unique_ptr<Repository> repo;
  std::string commit;

  CommandRunRepo() {
    repo = Must(Repository::Init(dir.path()));
    WriteFile(dir / "images/a.png", "image a");
    WriteFile(dir / "images/b.png", "image b");
    WriteFile(dir / "labels.csv", "path,label\nimages/a.png,cat\nimages/b.png,dog\n");
    AgeFile(dir / "labels.csv", 10);
    Must(Add(*repo, {""}).status());
    commit = Must(Commit(*repo, "data")).commit;
  }

  runs::CommandRunOptions Options(const std::string& script, const std::string& name = "") {
    runs::CommandRunOptions o;
    o.command = {"sh", "-c", script};
    o.cwd = dir.path();
    o.name = name;
    o.vrepo_version = "test";
    return o;
  }

  std::string File(const std::string& commit_id, const std::string& path) {
    FileEntry f = Must(repo->history().FileAt(commit_id, path));
    return Must(repo->store().Get(f.id));
  }

  size_t RunRefs() { return Must(repo->history().RefsWithPrefix("refs/runs/")).size(); }
};

TEST_CASE("a command run records its outputs, metrics and provenance") {
  CommandRunRepo r;
  const std::string script =
      "cat \"$VREPO_DATA/images/a.png\" > \"$VREPO_OUTPUT/copy.txt\" && "
      "mkdir \"$VREPO_OUTPUT/sub\" && printf model > \"$VREPO_OUTPUT/sub/model.bin\" && "
      "ln -s copy.txt \"$VREPO_OUTPUT/link\" && "
      "echo \"$VREPO_RUN_NAME $VREPO_COMMIT\" > \"$VREPO_OUTPUT/env.txt\" && "
      "echo '{\"epoch\": 1, \"loss\": 0.5}' >> \"$VREPO_METRICS\" && "
      "echo '{\"epoch\": 2, \"loss\": 0.25}' >> \"$VREPO_METRICS\"";
  runs::CommandRunResult res = Must(runs::RunCommand(*r.repo, r.Options(script, "first")));
  CHECK(res.status == runs::CommandStatus::kCompleted);
  CHECK(res.exit_code == 0);
  CHECK(res.name == "first");
  CHECK(Must(r.repo->history().ResolveCommit("refs/runs/first")) == res.commit);
  CHECK(Must(r.repo->history().GetCommit(res.commit)).parents ==
        std::vector<std::string>{r.commit});

  REQUIRE(res.outputs.size() == 3);  // the symlink is skipped
  CHECK(res.outputs[0].path == "copy.txt");
  CHECK(res.outputs[0].id == ContentId::Of("image a"));
  CHECK(res.outputs[2].path == "sub/model.bin");
  CHECK(r.File(res.commit, "outputs/copy.txt") == "image a");
  CHECK(r.File(res.commit, "outputs/sub/model.bin") == "model");
  CHECK(r.File(res.commit, "outputs/env.txt") == "first " + r.commit + "\n");
  REQUIRE(res.warnings.size() == 1);
  CHECK(res.warnings[0].find("'link'") != std::string::npos);
  CHECK(res.warnings[0].find("symbolic link") != std::string::npos);

  CHECK(res.metrics_lines == 2);
  CHECK(r.File(res.commit, "metrics.jsonl") ==
        "{\"epoch\":1,\"loss\":0.5}\n{\"epoch\":2,\"loss\":0.25}\n");
  json rec = json::parse(r.File(res.commit, "run.json"));
  CHECK(rec == res.record);
  CHECK(rec["format"] == 1);
  CHECK(rec["kind"] == "command");
  CHECK(rec["name"] == "first");
  CHECK(rec["status"] == "completed");
  CHECK(rec["exit_code"] == 0);
  CHECK(rec["signal"].is_null());
  CHECK(rec["dataset"]["rev"] == "HEAD");
  CHECK(rec["dataset"]["commit"] == r.commit);
  CHECK(rec["dataset"]["tree"] == Must(r.repo->history().GetCommit(r.commit)).tree);
  REQUIRE(rec["tables"].size() == 1);
  CHECK(rec["tables"][0]["table"] == "labels.csv");
  CHECK(rec["tables"][0]["samples"] == 2);
  CHECK(rec["tables"][0]["sample_digest"].get<std::string>().size() == 64);
  CHECK(rec["command"] == json::array({"sh", "-c", script}));
  CHECK(rec["cwd"] == r.dir.path());
  CHECK(rec["code"]["dirty"].is_boolean());
  CHECK(rec["environment"]["python"].is_null());  // sh is no python
  CHECK(rec["environment"]["variables"]["VREPO_RUN_NAME"] == "first");
  CHECK(rec["environment"]["variables"]["VREPO_COMMIT"] == r.commit);
  CHECK(rec["device"].is_string());
  CHECK(rec["host"].is_string());
  CHECK(rec["started"].get<std::string>().size() == 20);
  CHECK(rec["seconds"].get<double>() >= 0);
  CHECK(rec["outputs"][0] ==
        json{{"path", "copy.txt"}, {"content_id", ContentId::Of("image a").Hex()}, {"size", 7}});
  CHECK(rec["metrics_lines"] == 2);
  CHECK(rec["versions"]["vrepo"] == "test");
  // The scratch folder (data links, default output) is gone; the cache stays.
  CHECK(ListFolder(r.repo->vrepo_dir() + "/cache/runs").empty());
}

TEST_CASE("a command run's data folder is read-only links into the cache") {
  CommandRunRepo r;
  const std::string script =
      "stat -c '%i %a %h' \"$VREPO_DATA/images/a.png\" > \"$VREPO_OUTPUT/a.stat\" && "
      "stat -c '%a' \"$VREPO_DATA/images\" > \"$VREPO_OUTPUT/dir.stat\" && "
      "(echo x >> \"$VREPO_DATA/images/b.png\") 2>/dev/null; true";
  runs::CommandRunResult res = Must(runs::RunCommand(*r.repo, r.Options(script)));
  CHECK(res.name == res.commit.substr(0, 12));
  const std::string hex = ContentId::Of("image a").Hex();
  const std::string cached = r.repo->vrepo_dir() + "/cache/objects/" + hex.substr(0, 2) + "/" + hex;
  struct stat st;
  REQUIRE(::stat(cached.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0444);
  // Same inode as the cached copy, mode 0444, and linked twice while the command ran.
  CHECK(r.File(res.commit, "outputs/a.stat") == std::to_string(st.st_ino) + " 444 2\n");
  CHECK(r.File(res.commit, "outputs/dir.stat") == "555\n");
  if (::geteuid() != 0) {
    CHECK(res.warnings.empty());  // the write was refused
  } else {
    // Root writes through any mode: the change is named and the cached copy dropped.
    REQUIRE(res.warnings.size() == 1);
    CHECK(res.warnings[0].find("VREPO_DATA/images/b.png") != std::string::npos);
    const std::string hex_b = ContentId::Of("image b").Hex();
    CHECK(!Exists(r.repo->vrepo_dir() + "/cache/objects/" + hex_b.substr(0, 2) + "/" + hex_b));
  }
  // A second run links the same cached file again.
  res = Must(runs::RunCommand(*r.repo, r.Options(script)));
  struct stat again;
  REQUIRE(::stat(cached.c_str(), &again) == 0);
  CHECK(again.st_ino == st.st_ino);
}

TEST_CASE("a failing command is recorded as failed with its exit code") {
  CommandRunRepo r;
  runs::CommandRunResult res = Must(runs::RunCommand(
      *r.repo, r.Options("echo '{\"step\": 1}' >> \"$VREPO_METRICS\"; exit 3", "broken")));
  CHECK(res.status == runs::CommandStatus::kFailed);
  CHECK(res.exit_code == 3);
  CHECK(res.metrics_lines == 1);
  json rec = json::parse(r.File(res.commit, "run.json"));
  CHECK(rec["status"] == "failed");
  CHECK(rec["exit_code"] == 3);

  res = Must(runs::RunCommand(*r.repo, r.Options("kill -TERM $$", "killed")));
  CHECK(res.status == runs::CommandStatus::kFailed);
  CHECK(!res.exit_code);
  CHECK(res.signal == 15);
}

TEST_CASE("a malformed metrics line is skipped with a warning, and the run kept") {
  CommandRunRepo r;
  const std::string script =
      "echo '{\"epoch\": 1}' >> \"$VREPO_METRICS\"; echo 'loss=0.3' >> \"$VREPO_METRICS\"; "
      "echo '[1]' >> \"$VREPO_METRICS\"; echo '{\"epoch\": 2}' >> \"$VREPO_METRICS\"";
  runs::CommandRunResult res = Must(runs::RunCommand(*r.repo, r.Options(script, "m")));
  CHECK(res.metrics_lines == 2);
  REQUIRE(res.warnings.size() == 2);
  CHECK(res.warnings[0] == "VREPO_METRICS (metrics.jsonl) line 2: not valid JSON; skipped");
  CHECK(res.warnings[1] == "VREPO_METRICS (metrics.jsonl) line 3: not a JSON object; skipped");
  CHECK(r.File(res.commit, "metrics.jsonl") == "{\"epoch\":1}\n{\"epoch\":2}\n");
  CHECK(json::parse(r.File(res.commit, "run.json"))["warnings"].size() == 2);
}

TEST_CASE("bad input to a command run runs nothing and records nothing") {
  CommandRunRepo r;
  const std::string marker = r.dir / "ran";
  const std::string script = "touch '" + marker + "'";
  Must(runs::RunCommand(*r.repo, r.Options("true", "taken")).status());
  const size_t before = r.RunRefs();

  auto o = r.Options(script);
  o.rev = "nope";
  Status st = runs::RunCommand(*r.repo, o).status();
  CHECK(st.message().find("unknown revision 'nope'") != std::string::npos);

  o = r.Options(script);
  o.labels = {"missing.csv"};
  st = runs::RunCommand(*r.repo, o).status();
  CHECK(!st.ok());
  CHECK(st.message().find("missing.csv") != std::string::npos);

  o = r.Options(script);
  o.output_dir = r.dir / "full";
  WriteFile(r.dir / "full/x", "x");
  st = runs::RunCommand(*r.repo, o).status();
  CHECK(st.message() == r.dir / "full" + ": exists and is not empty");

  o = r.Options(script);
  o.command.clear();
  CHECK(runs::RunCommand(*r.repo, o).status().message() == "no command to run");

  st = runs::RunCommand(*r.repo, r.Options(script, "taken")).status();
  CHECK(st.message() == "run name 'taken' already exists");
  st = runs::RunCommand(*r.repo, r.Options(script, "../bad")).status();
  CHECK(st.message().find("invalid run name") != std::string::npos);

  o = r.Options(script);
  o.command = {"/no/such/program"};
  st = runs::RunCommand(*r.repo, o).status();
  CHECK(st.message().find("cannot run '/no/such/program'") != std::string::npos);

  CHECK(!Exists(marker));
  CHECK(r.RunRefs() == before);
}

TEST_CASE("reproducing a command run compares outputs and metrics field by field") {
  CommandRunRepo r;
  const std::string same =
      "cat \"$VREPO_DATA/labels.csv\" > \"$VREPO_OUTPUT/model.bin\"; "
      "echo '{\"epoch\": 1, \"loss\": 0.5, \"seconds\": '$(date +%s%N)'}' >> \"$VREPO_METRICS\"";
  runs::CommandRunResult res = Must(runs::RunCommand(*r.repo, r.Options(same, "det")));
  auto run = Must(runs::ReadCommandRun(*r.repo, "det"));
  REQUIRE(run.has_value());
  CHECK(run->commit == res.commit);
  runs::CommandReproReport report = Must(runs::ReproduceCommandRun(*r.repo, *run, {}));
  CHECK(report.ok());
  auto field = [&](const std::string& name) -> const runs::CommandReproField* {
    for (const auto& f : report.fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  REQUIRE(field("output model.bin content id") != nullptr);
  CHECK(field("output model.bin content id")->match);
  REQUIRE(field("metrics line 1 loss") != nullptr);
  CHECK(field("metrics line 1 loss")->match);
  REQUIRE(field("metrics line 1 seconds") != nullptr);
  CHECK(!field("metrics line 1 seconds")->required);
  REQUIRE(field("sample digest labels.csv") != nullptr);
  CHECK(field("sample digest labels.csv")->match);
  CHECK(field("exit code")->match);

  // A command whose output changes every time.
  const std::string varies =
      "date +%N > \"$VREPO_OUTPUT/model.bin\"; "
      "echo '{\"epoch\": 1, \"loss\": '$(date +%s%N)'}' >> \"$VREPO_METRICS\"";
  res = Must(runs::RunCommand(*r.repo, r.Options(varies, "nondet")));
  run = Must(runs::ReadCommandRun(*r.repo, res.commit.substr(0, 10)));
  REQUIRE(run.has_value());
  CHECK(run->name == "nondet");
  report = Must(runs::ReproduceCommandRun(*r.repo, *run, {}));
  CHECK(!report.ok());
  REQUIRE(field("output model.bin content id") != nullptr);
  CHECK(!field("output model.bin content id")->match);
  CHECK(field("output model.bin content id")->note == "different");
  CHECK(!field("metrics line 1 loss")->match);
  CHECK(field("metrics line 1 epoch")->match);

  // Not a command run: nullopt.
  CHECK(!Must(runs::ReadCommandRun(*r.repo, "nosuchrun")).has_value());
  CHECK(!Must(runs::ReadCommandRun(*r.repo, r.commit)).has_value());
}

TEST_CASE("a run commit writer refuses a taken name and keeps the ref unchanged") {
  CommandRunRepo r;
  runs::RunCommitWriter w = Must(runs::RunCommitWriter::Start(*r.repo, "one"));
  Must(w.AddBytes("run.json", "{}\n").status());
  const std::string first = Must(w.Finish({r.commit}, "run one"));
  CHECK(runs::RunCommitWriter::Start(*r.repo, "one").status().message() ==
        "run name 'one' already exists");
  // Two writers racing for one name: the second loses at Finish, the ref stays.
  runs::RunCommitWriter a = Must(runs::RunCommitWriter::Start(*r.repo, "two"));
  runs::RunCommitWriter b = Must(runs::RunCommitWriter::Start(*r.repo, "two"));
  Must(a.AddBytes("run.json", "{\"a\":1}\n").status());
  Must(b.AddBytes("run.json", "{\"b\":1}\n").status());
  const std::string won = Must(a.Finish({r.commit}, "run two"));
  CHECK(b.Finish({r.commit}, "run two").status().message() == "run name 'two' already exists");
  CHECK(Must(r.repo->history().ResolveCommit("refs/runs/two")) == won);
  CHECK(Must(r.repo->history().ResolveCommit("refs/runs/one")) == first);
}

}  // namespace
}  // namespace vrepo::testing
