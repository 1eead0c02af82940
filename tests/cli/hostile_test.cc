// Repositories crafted by hand, as an attacker would build them with git's plumbing: clone,
// checkout and fsck must refuse them without writing a byte outside the work tree
// (docs/security.md).
#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include "cli/cli_support.h"
#include "vrepo/history/history.h"

namespace vrepo::testing {
namespace {

std::string RawOid(const std::string& hex) {
  std::string raw;
  for (size_t i = 0; i < 40; i += 2) {
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return raw;
}

// A teammate's repository "evil" with one honest commit, into which the test writes raw
// objects; "victim.txt" sits beside it, where a clone must never write.
struct Evil {
  TempDir dir;
  std::string repo = dir / "evil";
  std::string git = "git --git-dir " + repo + "/.vrepo/meta ";
  Evil() {
    WriteFile(repo + "/a.txt", "honest\n");
    WriteFile(dir / "victim.txt", "mine\n");
    MustRun(dir.path(), {"init", "evil"});
    MustRun(repo, {"add", "."});
    MustRun(repo, {"commit", "-m", "first"});
  }
  std::string Object(const std::string& type, const std::string& data) {
    WriteFile(dir / "obj", data);
    return Shell(git + "hash-object --literally -w -t " + type + " " + (dir / "obj"));
  }
  std::string Tree(const std::vector<std::array<std::string, 3>>& entries) {
    std::string raw;
    for (const auto& [mode, name, id] : entries) raw += mode + " " + name + '\0' + RawOid(id);
    return Object("tree", raw);
  }
  // Points main at a new commit of `tree` on top of the honest one.
  void Publish(const std::string& tree) {
    std::string c = Shell(git + "commit-tree " + tree + " -p main -m evil");
    Shell(git + "update-ref refs/heads/main " + c);
  }
  std::string HonestPointer() { return Shell(git + "rev-parse main:a.txt"); }
};

TEST_CASE("clone refuses a tree that would write outside the work tree, and leaves nothing") {
  for (std::string name : {"..", ".vrepo", ".VREPO", ".git", ".Git", "GIT~1", ".git."}) {
    INFO("folder entry: " << name);
    Evil e;
    // "<name>/victim.txt": for "..", the file next to the repository.
    std::string inner = e.Tree(
        {{"100644", "victim.txt", e.HonestPointer()}, {"100644", "config", e.HonestPointer()}});
    e.Publish(e.Tree({{"100644", "a.txt", e.HonestPointer()}, {"40000", name, inner}}));
    std::string dst = e.dir / "dst/clone";
    CommandResult r = RunVrepo(e.dir.path(), {"clone", e.repo, dst});
    INFO(r.err);
    CHECK(r.exit_code == 128);
    CHECK(r.err.find("entry '" + name + "'") != std::string::npos);
    CHECK(ReadFileOrDie(e.dir / "victim.txt") == "mine\n");
    CHECK_FALSE(Exists(e.dir / "dst/victim.txt"));
    CHECK_FALSE(Exists(dst));
  }
}

TEST_CASE("clone refuses a pointer whose size is not its object's before writing it") {
  Evil e;
  std::string id = Shell("sha256sum " + (e.repo + "/a.txt") + " | cut -c1-64");
  std::string lying = e.Object("blob", "sha256:" + id + " 3\n");
  e.Publish(e.Tree({{"100644", "a.txt", lying}}));
  CommandResult r = RunVrepo(e.dir.path(), {"clone", e.repo, e.dir / "dst"});
  INFO(r.err);
  CHECK(r.exit_code == 128);
  CHECK(r.err.find("is 7 bytes, but its pointer says 3") != std::string::npos);
  CHECK_FALSE(Exists(e.dir / "dst"));
}

TEST_CASE("checkout in a crafted repository refuses before changing any file") {
  Evil e;
  std::string inner = e.Tree({{"100644", "victim.txt", e.HonestPointer()}});
  std::string evil_tree = e.Tree({{"100644", "a.txt", e.HonestPointer()}, {"40000", "..", inner}});
  std::string c = Shell(e.git + "commit-tree " + evil_tree + " -p main -m evil");
  WriteFile(e.dir / "victim.txt", "mine\n");
  CommandResult r = RunVrepo(e.repo, {"checkout", c});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("entry '..' names a folder itself or its parent") != std::string::npos);
  CHECK(ReadFileOrDie(e.dir / "victim.txt") == "mine\n");
  CHECK(ReadFileOrDie(e.repo + "/a.txt") == "honest\n");
  // fsck names it too once a ref reaches it.
  Shell(e.git + "update-ref refs/heads/evil " + c);
  r = RunVrepo(e.repo, {"fsck"});
  CHECK(r.exit_code != 0);
  CHECK((r.out + r.err).find("entry '..'") != std::string::npos);
}

TEST_CASE("names with terminal escapes are quoted as git quotes them") {
  Evil e;
  std::string inner = e.Tree({{"100644", "x", e.HonestPointer()}});
  e.Publish(e.Tree({{"40000", "a\x1b[2Jb", inner}, {"100644", "a.txt", e.HonestPointer()}}));
  CommandResult r = RunVrepo(e.dir.path(), {"clone", e.repo, e.dir / "dst"});
  INFO(r.err);
  CHECK(r.exit_code == 128);
  CHECK(r.err.find('\x1b') == std::string::npos);
  CHECK(r.err.find("entry \"a\\033[2Jb\" holds a control character") != std::string::npos);
}

TEST_CASE("a local clone sizes a stranger's objects from their headers before reading them") {
  // From a folder on disk libgit2 reads the source itself, resolving deltas whole: objects
  // over vrepo's bounds are refused by the size in their header first.
  Evil e;
  std::string big = e.Object("blob", std::string(5000, 'x'));
  e.Publish(e.Tree({{"100644", "a.txt", e.HonestPointer()}, {"100644", "big.bin", big}}));
  CommandResult r = RunVrepo(e.dir.path(), {"clone", e.repo, e.dir / "dst"});
  CHECK(r.exit_code == 128);
  CHECK(r.err.find("object " + big + " is a blob of 5000 bytes, over the limit of 1024") !=
        std::string::npos);
  CHECK_FALSE(Exists(e.dir / "dst"));
}

TEST_CASE("a damaged index is refused with the way out, and fsck --rebuild-index restores it") {
  TempDir dir;
  std::string repo = dir / "r";
  WriteFile(repo + "/images/a.png", RandomBytes(3000, 1));
  WriteFile(repo + "/labels.csv", "path,label\nimages/a.png,cat\n");
  MustRun(dir.path(), {"init", "r"});
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "first"});
  REQUIRE(::unlink((repo + "/.vrepo/index/CURRENT").c_str()) == 0);

  CommandResult r = RunVrepo(repo, {"status"});
  CHECK(r.exit_code == 128);
  CHECK(r.err.find("missing or damaged") != std::string::npos);
  CHECK(r.err.find("[rebuild it from the pack files: vrepo fsck --rebuild-index]") !=
        std::string::npos);
  // A writer does not make a fresh, empty index either.
  CHECK(RunVrepo(repo, {"add", "."}).exit_code == 128);
  CHECK_FALSE(Exists(repo + "/.vrepo/index/CURRENT"));

  r = MustRun(repo, {"fsck", "--rebuild-index"});
  CHECK(r.out.find("rebuilt the index from 1 pack files: ") != std::string::npos);
  CHECK(r.out.find("2 files staged from HEAD") != std::string::npos);
  CHECK(Exists(repo + "/.vrepo/index.damaged"));
  // Nothing shows as changed, and the content reads back.
  CHECK(MustRun(repo, {"status", "--porcelain"}).out == "");
  MustRun(dir.path(), {"clone", repo, dir / "copy"});
  CHECK(ReadFileOrDie(dir / "copy/images/a.png") == RandomBytes(3000, 1));
}

}  // namespace
}  // namespace vrepo::testing
