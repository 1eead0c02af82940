// Splitting small text files (config, tokens, ignore rules, wire bodies) into lines.
// Views point into the caller's text. Thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace vrepo {

// The lines of `text` without their '\n'; a last line without '\n' counts too, an empty text
// has none. A '\r' before the '\n' is kept: callers that accept CRLF strip it.
std::vector<std::string_view> SplitLines(std::string_view text);

}  // namespace vrepo
