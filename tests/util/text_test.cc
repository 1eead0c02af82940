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

}  // namespace vrepo
