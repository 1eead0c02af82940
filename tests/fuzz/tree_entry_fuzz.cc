// Fuzz target: the checks on names that arrive in trees (tree_name.h) and the pointer blob's
// parse. The whole input is one name for UnsafeNameReason and FoldCase; split at '\n' or NUL
// it is one tree's entries for CheckTreeNames; it is a pointer blob for ParsePointer, which must
// accept exactly the text PointerText writes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/history/tree_name.h"

namespace {

bool IsControl(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

void CheckName(std::string_view name) {
  const std::string why = vrepo::UnsafeNameReason(name);
  if (!why.empty()) return;
  // An accepted name stays inside its folder and out of .vrepo/ and .git/.
  if (name.empty() || name == "." || name == "..") std::abort();
  for (char c : name) {
    if (c == '/' || c == '\\' || IsControl(c)) std::abort();
  }
  std::string folded = vrepo::FoldCase(name);
  while (!folded.empty() && (folded.back() == '.' || folded.back() == ' ')) folded.pop_back();
  for (const char* bad : {".git", ".vrepo", "git~1", "vrepo~1", ""}) {
    if (folded == bad) std::abort();
  }
  if (folded.rfind(".git:", 0) == 0 || folded.rfind(".vrepo:", 0) == 0) std::abort();
}

void CheckFoldCase(std::string_view input) {
  const std::string folded = vrepo::FoldCase(input);
  if (folded.size() != input.size()) std::abort();
  for (size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    char want = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (folded[i] != want) std::abort();
  }
  if (vrepo::FoldCase(folded) != folded) std::abort();
}

// The input as one tree's entries: the pieces between '\n' and NUL separators (a separator at
// the very end ends the last name rather than starting an empty one).
void CheckTree(std::string_view input) {
  std::vector<std::string_view> names;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t end = pos;
    while (end < input.size() && input[end] != '\n' && input[end] != '\0') ++end;
    names.push_back(input.substr(pos, end - pos));
    pos = end + 1;
  }
  const std::string why = vrepo::CheckTreeNames(names);
  bool all_safe = true;
  for (std::string_view n : names) {
    if (!vrepo::UnsafeNameReason(n).empty()) all_safe = false;
  }
  const std::set<std::string_view> distinct(names.begin(), names.end());
  const bool duplicate = distinct.size() != names.size();
  if (why.empty()) {
    if (!all_safe || duplicate) std::abort();
  } else {
    if (all_safe && !duplicate) std::abort();
    if (why.rfind("entry ", 0) != 0) std::abort();
  }
}

void CheckPointer(std::string_view input) {
  const std::string where = "p.blob";
  vrepo::ContentId id;
  uint64_t size = 0;
  vrepo::Status st = vrepo::ParsePointer(input, where, &id, &size);
  if (st.ok()) {
    // Strict: the only accepted spelling is the one PointerText writes.
    if (vrepo::PointerText(id, size) != input) std::abort();
  } else {
    if (st.code() != vrepo::Status::Code::kCorruption) std::abort();
    if (st.message().rfind(where + ": ", 0) != 0) std::abort();
  }
  // Whatever PointerText writes parses back: an id and a size taken from the input's bytes.
  vrepo::ContentId made;
  uint64_t made_size = 0;
  std::memcpy(made.bytes.data(), input.data(), std::min(input.size(), made.bytes.size()));
  if (input.size() > 32) {
    std::memcpy(&made_size, input.data() + 32, std::min<size_t>(input.size() - 32, 8));
  }
  vrepo::ContentId back;
  uint64_t back_size = 0;
  if (!vrepo::ParsePointer(vrepo::PointerText(made, made_size), where, &back, &back_size).ok() ||
      back != made || back_size != made_size) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckName(input);
  CheckFoldCase(input);
  CheckTree(input);
  CheckPointer(input);
  return 0;
}
