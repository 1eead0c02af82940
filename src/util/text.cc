#include "vrepo/util/text.h"

#include <algorithm>
#include <cstdio>

namespace vrepo {

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

namespace {

bool NeedsQuoting(unsigned char c) { return c < 0x20 || c >= 0x7f || c == '"' || c == '\\'; }

// Appends `c` as a three-digit octal escape (\033), as git writes bytes it quotes.
void AppendOctal(std::string& out, unsigned char c) {
  out += '\\';
  out += static_cast<char>('0' + (c >> 6));
  out += static_cast<char>('0' + ((c >> 3) & 7));
  out += static_cast<char>('0' + (c & 7));
}

}  // namespace

std::string QuotePath(std::string_view name, bool quote_spaces) {
  bool plain = true;
  for (char c : name) {
    plain &= !NeedsQuoting(static_cast<unsigned char>(c)) && !(quote_spaces && c == ' ');
  }
  if (plain) return std::string(name);
  std::string out = "\"";
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (NeedsQuoting(c)) {
          AppendOctal(out, c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string QuoteName(std::string_view name) {
  std::string q = QuotePath(name);
  return q.size() == name.size() ? "'" + q + "'" : q;
}

std::string EscapeControl(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      AppendOctal(out, c);
    } else {
      out += ch;
    }
  }
  return out;
}

size_t JsonNestingPastLimit(std::string_view json, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

bool IsLowerHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace vrepo
