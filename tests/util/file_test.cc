// RemoveTree: the folder removal every layer and the test fixtures use.
#include "vrepo/util/file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing.h"

namespace vrepo {

TEST_CASE("RemoveTree removes nested folders and files but never follows a symlink") {
  testing::TempDir dir;
  const std::string tree = dir / "tree";
  testing::WriteFile(tree + "/a/b/c/deep.txt", "deep");
  testing::WriteFile(tree + "/a/top.bin", "top");
  testing::WriteFile(tree + "/empty", "");
  REQUIRE(::mkdir((tree + "/a/empty-dir").c_str(), 0755) == 0);
  REQUIRE(::chmod((tree + "/a/top.bin").c_str(), 0444) == 0);  // read-only files go too
  testing::WriteFile(dir / "outside/keep.txt", "keep");
  REQUIRE(::symlink((dir / "outside").c_str(), (tree + "/a/link").c_str()) == 0);

  REQUIRE(RemoveTree(tree).ok());
  CHECK_FALSE(testing::Exists(tree));
  CHECK(testing::ReadFileOrDie(dir / "outside/keep.txt") == "keep");

  SUBCASE("an absent path is not an error") { CHECK(RemoveTree(tree).ok()); }
  SUBCASE("a plain file is removed") {
    testing::WriteFile(dir / "file", "x");
    CHECK(RemoveTree(dir / "file").ok());
    CHECK_FALSE(testing::Exists(dir / "file"));
  }
  SUBCASE("a symlink to a folder is removed as a link") {
    REQUIRE(::symlink((dir / "outside").c_str(), (dir / "link").c_str()) == 0);
    CHECK(RemoveTree(dir / "link").ok());
    CHECK(testing::ReadFileOrDie(dir / "outside/keep.txt") == "keep");
  }
}

}  // namespace vrepo
