#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

// The work tree's fixture: the handle's tests also check what commits and a reader's
// status see through it.
#include "worktree/worktree_fixture.h"

namespace vrepo::testing {

TEST_CASE("init creates the .vrepo layout and refuses to run twice") {
  RepoFixture f;
  CHECK(Exists(f.Path(".vrepo/meta/HEAD")));
  CHECK(Exists(f.Path(".vrepo/objects/packs")));
  CHECK(Exists(f.Path(".vrepo/index")));
  CHECK(Exists(f.Path(".vrepo/lock")));
  CHECK(ReadFileOrDie(f.Path(".vrepo/config")).find("formatVersion") != std::string::npos);
  f.repo.reset();
  auto again = Repository::Init(f.dir.path());
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message().find("already a vrepo repository") != std::string::npos);
}

TEST_CASE("discover walks up from a subfolder and names the start when there is no repo") {
  RepoFixture f;
  WriteFile(f.Path("a/b/c/file"), "x");
  f.repo.reset();
  OpenOptions ro;
  ro.read_only = true;
  auto found = Must(Repository::Discover(f.Path("a/b/c"), ro));
  char real[PATH_MAX];
  REQUIRE(::realpath(f.dir.path().c_str(), real));
  CHECK(found->root() == std::string(real));
  CHECK(found->vrepo_dir() == std::string(real) + "/.vrepo");

  TempDir other;
  auto missing = Repository::Discover(other.path(), ro);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK(missing.status().message().find("not a vrepo repository (or any parent up to /)") == 0);
}

TEST_CASE("a second writer gets Locked naming the holder's pid while a reader opens fine") {
  RepoFixture f;
  f.Write("a.txt", "hello");
  f.CommitAll("first");
  auto second = Repository::Discover(f.dir.path(), OpenOptions{});
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Status::Code::kLocked);
  CHECK(second.status().message().find("pid " + std::to_string(::getpid())) != std::string::npos);

  OpenOptions ro;
  ro.read_only = true;
  auto reader = Must(Repository::Discover(f.dir.path(), ro));
  CHECK(reader->read_only());
  auto status = Must(ComputeStatus(*reader));
  CHECK(status.entries.empty());
  CHECK(Must(StagedFiles(*reader)).size() == 1);
  auto add = Add(*reader, {""});
  CHECK(add.status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("ref lock files left by a killed writer do not block the next writer") {
  RepoFixture f;
  f.Write("a.txt", "one");
  f.CommitAll("first");
  f.repo.reset();
  // What a writer SIGKILLed in the middle of a ref update leaves behind.
  WriteFile(f.Path(".vrepo/meta/HEAD.lock"), "");
  WriteFile(f.Path(".vrepo/meta/refs/heads/main.lock"), "");
  OpenOptions rw;
  f.repo = Must(Repository::Discover(f.dir.path(), rw));
  CHECK_FALSE(Exists(f.Path(".vrepo/meta/HEAD.lock")));
  CHECK_FALSE(Exists(f.Path(".vrepo/meta/refs/heads/main.lock")));
  f.Write("a.txt", "two");
  std::string second = f.CommitAll("second");
  CHECK(Must(f.repo->history().HeadCommit()) == second);
}

TEST_CASE("relative paths resolve against cwd and stay inside the working tree") {
  RepoFixture f;
  const Repository& r = *f.repo;
  std::string root = r.root();
  WriteFile(f.Path("sub/x"), "x");
  CHECK(Must(r.RelativePath(root, ".")) == "");
  CHECK(Must(r.RelativePath(root + "/sub", "x")) == "sub/x");
  CHECK(Must(r.RelativePath(root + "/sub", "../y/./z")) == "y/z");
  CHECK(Must(r.RelativePath("/", root + "/sub/")) == "sub");
  CHECK(r.RelativePath(root, "..").status().code() == Status::Code::kInvalidArgument);
  CHECK(r.RelativePath(root, ".vrepo/config").status().code() == Status::Code::kInvalidArgument);
}

}  // namespace vrepo::testing
