#include "vrepo/history/tree_name.h"

#include <algorithm>
#include <functional>

#include "vrepo/util/text.h"

namespace vrepo {

namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The UTF-8 length of a code point HFS+ ignores when it compares names (git's
// next_hfs_char list: zero-width joiners, direction marks, the BOM), or 0.
size_t HfsIgnorableAt(std::string_view s, size_t i) {
  if (i + 3 > s.size()) return 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (b(0) == 0xE2 && b(1) == 0x80 &&
      ((b(2) >= 0x8C && b(2) <= 0x8F) || (b(2) >= 0xAA && b(2) <= 0xAE))) {
    return 3;
  }
  if (b(0) == 0xE2 && b(1) == 0x81 && b(2) >= 0xAA && b(2) <= 0xAF) return 3;
  if (b(0) == 0xEF && b(1) == 0xBB && b(2) == 0xBF) return 3;
  return 0;
}

// The name as Windows or macOS would resolve it: lower case, HFS+ ignorables dropped, an
// NTFS stream suffix (":...") cut, trailing dots and spaces stripped.
std::string ResolvedSpelling(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size();) {
    if (size_t skip = HfsIgnorableAt(name, i)) {
      i += skip;
      continue;
    }
    if (name[i] == ':') break;
    out.push_back(Lower(name[i++]));
  }
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  return out;
}

// True for an 8.3 short name of `base` ("git~1", "vrepo~12"): NTFS answers to it.
bool IsShortNameOf(const std::string& spelled, std::string_view base) {
  if (spelled.size() < base.size() + 2 || spelled.compare(0, base.size(), base) != 0) return false;
  if (spelled[base.size()] != '~' || spelled[base.size() + 1] < '1') return false;
  return std::all_of(spelled.begin() + static_cast<long>(base.size()) + 1, spelled.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string UnsafeNameReason(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name == "." || name == "..") return "names a folder itself or its parent";
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\') return "holds a path separator";
    if (u < 0x20 || u == 0x7f) return "holds a control character";
  }
  std::string spelled = ResolvedSpelling(name);
  if (spelled == ".vrepo" || IsShortNameOf(spelled, "vrepo")) {
    return "would write into vrepo's own .vrepo folder";
  }
  if (spelled == ".git" || IsShortNameOf(spelled, "git")) {
    return "would check out a .git folder, whose config can run commands";
  }
  if (spelled.empty() || spelled == "." || spelled == "..") {
    return "resolves to a folder itself or its parent on Windows";
  }
  return "";
}

std::string CheckTreeNames(std::vector<std::string_view> names) {
  for (std::string_view n : names) {
    std::string why = UnsafeNameReason(n);
    if (!why.empty()) return "entry " + QuoteName(n) + " " + why;
  }
  // Trees arrive sorted (git's order), which is byte order unless a folder's name is a
  // prefix of a sibling's; only then is the sort worth its cost on a million-file commit.
  if (std::adjacent_find(names.begin(), names.end(), std::greater_equal<>()) == names.end()) {
    return "";
  }
  std::sort(names.begin(), names.end());
  auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end()) return "entry " + QuoteName(*dup) + " appears twice";
  return "";
}

std::string FoldCase(std::string_view path) {
  std::string out(path);
  for (char& c : out) c = Lower(c);
  return out;
}

}  // namespace vrepo
