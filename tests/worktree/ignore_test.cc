#include "vrepo/worktree/ignore.h"

#include "worktree_fixture.h"

namespace vrepo::testing {

namespace {

bool Ignored(const IgnoreStack& s, const std::string& path, bool dir = false) {
  return s.IsIgnored(path, dir);
}

}  // namespace

TEST_CASE("ignore rules follow gitignore syntax") {
  IgnoreStack s;
  s.Push(ParseIgnoreFile("",
                         "# comment\n\n*.tmp\n!keep.tmp\nbuild/\n/top.txt\ndocs/*.md\n"
                         "**/cache\nlogs/**\nimg?.png\n[ab].bin\n"));
  CHECK(Ignored(s, "x.tmp"));
  CHECK(Ignored(s, "deep/er/x.tmp"));
  CHECK_FALSE(Ignored(s, "keep.tmp"));
  CHECK_FALSE(Ignored(s, "deep/keep.tmp"));
  CHECK(Ignored(s, "build", true));
  CHECK(Ignored(s, "src/build", true));
  CHECK_FALSE(Ignored(s, "build", false));  // folder-only rule, and this is a file
  CHECK(Ignored(s, "top.txt"));
  CHECK_FALSE(Ignored(s, "sub/top.txt"));  // anchored to the file's folder
  CHECK(Ignored(s, "docs/a.md"));
  CHECK_FALSE(Ignored(s, "docs/sub/a.md"));  // '*' does not cross '/'
  CHECK_FALSE(Ignored(s, "other/docs/a.md"));
  CHECK(Ignored(s, "cache", true));
  CHECK(Ignored(s, "a/b/cache"));
  CHECK(Ignored(s, "logs/x"));
  CHECK(Ignored(s, "logs/x/y.txt"));
  CHECK_FALSE(Ignored(s, "logs", true));
  CHECK(Ignored(s, "img1.png"));
  CHECK_FALSE(Ignored(s, "img10.png"));
  CHECK(Ignored(s, "a.bin"));
  CHECK_FALSE(Ignored(s, "c.bin"));
}

TEST_CASE("inner ** matches any number of folders") {
  IgnoreStack s;
  s.Push(ParseIgnoreFile("", "a/**/z.txt\n"));
  CHECK(Ignored(s, "a/z.txt"));
  CHECK(Ignored(s, "a/b/z.txt"));
  CHECK(Ignored(s, "a/b/c/d/z.txt"));
  CHECK_FALSE(Ignored(s, "b/a/z.txt"));
}

TEST_CASE("a deeper .vrepoignore wins and its anchors are relative to its folder") {
  IgnoreStack s;
  s.Push(ParseIgnoreFile("", "*.log\n"));
  s.Push(ParseIgnoreFile("sub", "!important.log\n/local.txt\n"));
  CHECK(Ignored(s, "a.log"));
  CHECK(Ignored(s, "sub/a.log"));
  CHECK_FALSE(Ignored(s, "sub/important.log"));
  CHECK(Ignored(s, "important.log"));
  CHECK(Ignored(s, "sub/local.txt"));
  CHECK_FALSE(Ignored(s, "sub/deeper/local.txt"));
  CHECK_FALSE(Ignored(s, "local.txt"));
}

TEST_CASE("add and status honour .vrepoignore files in the working tree") {
  RepoFixture f;
  f.Write(".vrepoignore", "*.tmp\nscratch/\n");
  f.Write("keep.png", "png");
  f.Write("junk.tmp", "tmp");
  f.Write("scratch/big.bin", "bin");
  f.Write("data/.vrepoignore", "!want.tmp\n/only-here.txt\n");
  f.Write("data/want.tmp", "w");
  f.Write("data/other.tmp", "o");
  f.Write("data/only-here.txt", "x");
  f.Write("data/deep/only-here.txt", "y");
  CHECK(RepoFixture::Lines(f.Status()) ==
        " ? .vrepoignore\n"
        " ? data/.vrepoignore\n"
        " ? data/deep/only-here.txt\n"
        " ? data/want.tmp\n"
        " ? keep.png\n");
  auto added = Must(Add(*f.repo, {""}));
  CHECK(added.files_added == 5);
  auto staged = Must(StagedFiles(*f.repo));
  REQUIRE(staged.size() == 5);
  CHECK(staged[3].path == "data/want.tmp");
  // Adding a subfolder still applies the rules of the folders above it.
  f.Write("data/more.tmp", "m");
  CHECK(Must(Add(*f.repo, {"data"})).files_added == 0);
}

}  // namespace vrepo::testing
