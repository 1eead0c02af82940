// Splitting small text files (config, tokens, ignore rules, wire bodies) into lines, quoting
// names for a terminal, and bounding untrusted JSON's nesting.
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
// `quote_spaces` quotes names with a space too, as git's porcelain formats do.
std::string QuotePath(std::string_view name, bool quote_spaces = false);
// `text` with each control character (below 0x20, and 0x7f) as a C escape and everything else
// as is: for free text in messages, whose quotes are its own.
std::string EscapeControl(std::string_view text);
// For messages: 'name' when QuotePath leaves it as is, else QuotePath's "quoted" form.
std::string QuoteName(std::string_view name);

// Whether `s` is non-empty and all lowercase hex digits, as ids print.
bool IsLowerHex(std::string_view s);
// `v` with `digits` digits after the point ("%.*f").
std::string Fixed(double v, int digits);
// `s` followed by spaces up to `width` characters (unchanged when already as wide).
std::string Pad(std::string s, size_t width);

// The offset in `json` of the first '[' or '{' that opens a level deeper than `max_depth`, or
// npos. JSON parsers keep memory per open level before any check could refuse a file of
// nested brackets; this scan allocates nothing, so untrusted JSON is run through it first.
// It does not validate: a parser still does that after.
size_t JsonNestingPastLimit(std::string_view json, int max_depth);

}  // namespace vrepo
