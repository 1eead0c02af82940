// Round trip through the real binary: what is committed comes back byte for byte.
#include <sys/wait.h>

#include <cstdio>

#include "cli/cli_support.h"

namespace vrepo::testing {
namespace {

std::string Git(const std::string& args) {
  std::string out;
  FILE* p = ::popen(("git " + args + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  INFO("git " << args << "\n" << out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return out;
}

}  // namespace

TEST_CASE("cli: init, add, commit, modify, commit, checkout restores every file exactly") {
  TempDir t;
  const std::string repo = t.path();
  CHECK(MustRun(repo, {"init"}).out ==
        "Initialized empty vrepo repository in " + repo + "/.vrepo/\n");

  Snapshot v1 = {
      {"plain.txt", {"hello\n", false}},
      {"run.sh", {"#!/bin/sh\necho hi\n", true}},
      {"empty.dat", {"", false}},
      {"a/b/c/d/e/f/g/h/deep.bin", {RandomBytes(5000, 1), false}},
      {"with space/file name.txt", {"spaces", false}},
      {"ünïcødé ✓/名前.png", {RandomBytes(3000, 2), false}},
      {"to-delete.txt", {"delete me, then bring me back", false}},
      {"big.bin", {RandomBytes(6 << 20, 3), false}},
  };
  WriteSnapshot(repo, v1);
  MustRun(repo, {"add", "."});
  std::string out = MustRun(repo, {"commit", "-m", "first"}).out;
  CHECK(out.rfind("[main (root-commit) ", 0) == 0);
  CHECK(out.size() == std::string("[main (root-commit) 1234567] first\n").size());
  CHECK(out.substr(out.size() - 8) == "] first\n");
  std::string first = RevParse(repo, "HEAD");
  CHECK(out.find(first.substr(0, 7)) != std::string::npos);

  Snapshot v2 = v1;
  v2["plain.txt"].data = "hello, changed\n";
  v2["run.sh"].executable = false;
  v2["empty.dat"].data = "no longer empty";
  v2["big.bin"].data.replace(3 << 20, 10, "0123456789");
  v2["new folder/new.txt"] = {"new", true};
  v2.erase("to-delete.txt");
  std::filesystem::remove(repo + "/to-delete.txt");
  WriteSnapshot(repo, v2);
  MustRun(repo, {"add", "."});
  out = MustRun(repo, {"commit", "-m", "second"}).out;
  CHECK(out.rfind("[main ", 0) == 0);
  CHECK(out.find("root-commit") == std::string::npos);
  std::string second = RevParse(repo, "HEAD");

  Snapshot v3 = v2;
  v3["to-delete.txt"] = v1["to-delete.txt"];
  WriteSnapshot(repo, v3);
  MustRun(repo, {"add", "to-delete.txt"});
  MustRun(repo, {"commit", "-m", "third: file re-added"});
  CHECK(TakeSnapshot(repo) == v3);

  MustRun(repo, {"checkout", first});
  CHECK(SnapshotDiff(v1, TakeSnapshot(repo)) == "");
  CHECK(RevParse(repo, "HEAD") == first);
  MustRun(repo, {"checkout", second});
  CHECK(SnapshotDiff(v2, TakeSnapshot(repo)) == "");
  CHECK(!Exists(repo + "/to-delete.txt"));
  auto r = MustRun(repo, {"checkout", "main"});
  CHECK(r.err == "Switched to branch 'main'\n");
  CHECK(SnapshotDiff(v3, TakeSnapshot(repo)) == "");
  CHECK(MustRun(repo, {"status", "--porcelain"}).out == "");

  // The history is an ordinary git repository.
  std::string log = Git("--git-dir '" + repo + "/.vrepo/meta' log --format=%s main");
  CHECK(log == "third: file re-added\nsecond\nfirst\n");
  std::string pointer = Git("--git-dir '" + repo + "/.vrepo/meta' show main:plain.txt");
  CHECK(pointer.rfind("sha256:", 0) == 0);
}

TEST_CASE("cli: -C and subfolders resolve paths like git") {
  TempDir t;
  const std::string repo = t / "repo";
  MustRun(t.path(), {"init", "repo"});
  WriteFile(repo + "/sub/dir/a.txt", "a");
  WriteFile(repo + "/sub/b.txt", "b");
  MustRun(repo + "/sub", {"add", "dir"});
  CHECK(MustRun(t.path(), {"-C", "repo", "status", "--porcelain"}).out ==
        "A  sub/dir/a.txt\n?? sub/b.txt\n");
  MustRun(t.path(), {"-C", repo + "/sub", "add", "b.txt"});
  MustRun(repo + "/sub/dir", {"commit", "-m", "from a subfolder"});
  CHECK(MustRun("/", {"-C", repo, "log", "--oneline"}).out.find(" from a subfolder\n") == 7);
}

}  // namespace vrepo::testing
