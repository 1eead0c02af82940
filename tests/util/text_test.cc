#include "vrepo/util/text.h"

#include <doctest/doctest.h>

#include <string_view>
#include <vector>

namespace vrepo {

using Lines = std::vector<std::string_view>;

TEST_CASE("SplitLines: a last line without newline counts, CR stays, empty lines are kept") {
  CHECK(SplitLines("") == Lines{});
  CHECK(SplitLines("\n") == Lines{""});
  CHECK(SplitLines("a") == Lines{"a"});
  CHECK(SplitLines("a\nb\n") == Lines{"a", "b"});
  CHECK(SplitLines("a\n\nb") == Lines{"a", "", "b"});
  CHECK(SplitLines("a\r\nb\r\n") == Lines{"a\r", "b\r"});
}

TEST_CASE("QuotePath quotes as git does with core.quotePath") {
  CHECK(QuotePath("images/cat 1.png") == "images/cat 1.png");
  CHECK(QuotePath("a\x1b[31mred") == "\"a\\033[31mred\"");
  CHECK(QuotePath("tab\there\n") == "\"tab\\there\\n\"");
  CHECK(QuotePath("q\"b\\") == "\"q\\\"b\\\\\"");
  CHECK(QuotePath("caf\xc3\xa9") == "\"caf\\303\\251\"");
  CHECK(QuoteName("cat.png") == "'cat.png'");
  CHECK(QuoteName("x\ry") == "\"x\\ry\"");
}

TEST_CASE("EscapeControl escapes control characters only, QuotePath spaces when asked") {
  CHECK(EscapeControl("a\x1b[2Jb \"é\"\x7f") == "a\\033[2Jb \"é\"\\177");
  CHECK(QuotePath("a b") == "a b");
  CHECK(QuotePath("a b", /*quote_spaces=*/true) == "\"a b\"");
}

TEST_CASE("JsonNestingPastLimit finds the bracket past the limit, outside strings only") {
  CHECK(JsonNestingPastLimit(R"({"a": [[1]]})", 3) == std::string_view::npos);
  CHECK(JsonNestingPastLimit(R"({"a": [[1]]})", 2) == 7);
  CHECK(JsonNestingPastLimit(R"({"a": "[[[[\"[[["})", 1) == std::string_view::npos);
  CHECK(JsonNestingPastLimit(std::string(100000, '['), 16) == 16);
  CHECK(JsonNestingPastLimit("", 0) == std::string_view::npos);
}

TEST_CASE("Fixed, Pad and IsLowerHex format and check as numbers and ids print") {
  CHECK(Fixed(2.0 / 3, 2) == "0.67");
  CHECK(Fixed(12.5, 0) == "12");
  CHECK(Pad("ab", 4) == "ab  ");
  CHECK(Pad("abcdef", 4) == "abcdef");
  CHECK(IsLowerHex("0123abcdef"));
  CHECK_FALSE(IsLowerHex(""));
  CHECK_FALSE(IsLowerHex("ABC"));
  CHECK_FALSE(IsLowerHex("12g"));
}

}  // namespace vrepo
