#include "vrepo/history/tree_name.h"

#include <doctest/doctest.h>

#include <string>

namespace vrepo {

TEST_CASE("UnsafeNameReason refuses what could write outside the work tree or into .vrepo/.git") {
  for (const std::string& bad : std::initializer_list<std::string>{"",
                                                                   ".",
                                                                   "..",
                                                                   "a/b",
                                                                   "../x",
                                                                   "a\\b",
                                                                   std::string("a\0b", 3),
                                                                   "x\x01y",
                                                                   "\x1b[2J",
                                                                   "del\x7f",
                                                                   ".vrepo",
                                                                   ".VREPO",
                                                                   ".Vrepo",
                                                                   ".git",
                                                                   ".GIT",
                                                                   ".Git",
                                                                   ".git.",
                                                                   ".git ",
                                                                   ".git. . ",
                                                                   ".git::$INDEX_ALLOCATION",
                                                                   ".vrepo:stream",
                                                                   "GIT~1",
                                                                   "git~12",
                                                                   "VREPO~1",
                                                                   ".git\xe2\x80\x8c",
                                                                   ".vr\xef\xbb\xbf"
                                                                   "epo",
                                                                   "...",
                                                                   " "}) {
    INFO("name: " << bad);
    CHECK_FALSE(UnsafeNameReason(bad).empty());
  }
  for (const std::string& good : std::initializer_list<std::string>{
           "a.txt", ".vrepoignore", ".gitignore", ".github", "git~", "git~a", "vrepo", "..a", "a..",
           "caf\xc3\xa9.png", "images"}) {
    INFO("name: " << good);
    CHECK(UnsafeNameReason(good).empty());
  }
}

TEST_CASE("CheckTreeNames names the entry, and refuses a name that appears twice") {
  CHECK(CheckTreeNames({"a", "b", "c"}).empty());
  CHECK(CheckTreeNames({"b", "a", "b"}) == "entry 'b' appears twice");
  CHECK(CheckTreeNames({"ok", ".."}) == "entry '..' names a folder itself or its parent");
  // A name with an escape sequence is quoted as git quotes it, never printed raw.
  CHECK(CheckTreeNames({"a\x1b[31m/b"}) == "entry \"a\\033[31m/b\" holds a control character");
}

TEST_CASE("FoldCase folds ASCII letters only") {
  CHECK(FoldCase("Images/Cat.PNG") == "images/cat.png");
  CHECK(FoldCase("\xc3\x89") == "\xc3\x89");
}

}  // namespace vrepo
