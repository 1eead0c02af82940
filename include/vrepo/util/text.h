// Splitting small text files (config, tokens, ignore rules, wire bodies) into lines, and
// quoting names for a terminal.
// Views point into the caller's text. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vrepo {

// The lines of `text` without their '\n'; a last line without '\n' counts too, an empty text
// has none. A '\r' before the '\n' is kept: callers that accept CRLF strip it.
std::vector<std::string_view> SplitLines(std::string_view text);

// `name` as git prints a path with core.quotePath on: as is when it holds only printable
// ASCII other than '"' and '\\', else in double quotes with C escapes (\t, \n, \", \\) and
// octal for every other byte, so hostile names cannot send escape sequences to a terminal.
std::string QuotePath(std::string_view name);
// For messages: 'name' when QuotePath leaves it as is, else QuotePath's "quoted" form.
std::string QuoteName(std::string_view name);

}  // namespace vrepo
