// The pointer blob: "sha256:<64 lowercase hex> <decimal size>\n", the only content of a file
// as git sees it. Parsing is strict so that a damaged blob is reported, never misread.
#include <string>
#include <string_view>

#include "vrepo/history/history.h"

namespace vrepo {
namespace {

constexpr std::string_view kPrefix = "sha256:";

int LowerHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Status Malformed(const std::string& where, const std::string& why) {
  return Status::Corruption(where + ": malformed pointer blob: " + why);
}

}  // namespace

std::string PointerText(const ContentId& id, uint64_t size) {
  std::string out;
  out.reserve(kPrefix.size() + 64 + 22);
  out.append(kPrefix);
  out.append(id.Hex());
  out.push_back(' ');
  out.append(std::to_string(size));
  out.push_back('\n');
  return out;
}

Status ParsePointer(std::string_view text, const std::string& where, ContentId* id,
                    uint64_t* size) {
  if (text.substr(0, kPrefix.size()) != kPrefix) return Malformed(where, "missing 'sha256:'");
  text.remove_prefix(kPrefix.size());
  if (text.size() < 64) return Malformed(where, "content id too short");
  for (size_t i = 0; i < 32; ++i) {
    int hi = LowerHexValue(text[2 * i]), lo = LowerHexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return Malformed(where, "content id is not lowercase hex");
    id->bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  text.remove_prefix(64);
  if (text.empty() || text[0] != ' ') return Malformed(where, "expected ' ' after the content id");
  text.remove_prefix(1);
  size_t digits = 0;
  uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    uint64_t d = static_cast<uint64_t>(text[digits] - '0');
    if (value > (UINT64_MAX - d) / 10) return Malformed(where, "size overflows");
    value = value * 10 + d;
    ++digits;
  }
  if (digits == 0) return Malformed(where, "missing size");
  if (digits > 1 && text[0] == '0') return Malformed(where, "size has a leading zero");
  text.remove_prefix(digits);
  if (text != "\n") return Malformed(where, "expected a single newline after the size");
  *size = value;
  return Status::OK();
}

}  // namespace vrepo
