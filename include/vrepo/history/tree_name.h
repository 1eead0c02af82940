// What a tree that arrived from elsewhere may name. Every command that writes files from a
// tree (checkout, switch, restore, clone, pull, merge) and the server before it accepts a push
// rely on these checks, so a crafted tree cannot write outside the work tree or into
// .vrepo/ or a .git folder (docs/security.md). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vrepo {

// Why `name`, one entry of a tree, must not be checked out; "" when it may. Refused: empty,
// "." and "..", '/', '\', NUL and control characters, and ".vrepo" or ".git" in any letter
// case, with the spellings that Windows and macOS filesystems resolve to them (trailing dots
// and spaces, NTFS streams "name::$DATA", 8.3 short names "GIT~1", HFS+ ignorable code
// points), as git's verify_path does.
std::string UnsafeNameReason(std::string_view name);

// The checks on a whole tree: each name is safe and no name repeats. `names` is one tree's
// entries in any order. Returns "" or the problem naming the entry.
std::string CheckTreeNames(std::vector<std::string_view> names);

// `path` ('/'-separated) folded as a case-insensitive filesystem compares names (ASCII
// letters), for finding two paths that would land on one file.
std::string FoldCase(std::string_view path);

}  // namespace vrepo
