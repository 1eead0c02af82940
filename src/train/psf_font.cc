#include "psf_font.h"

#include "vrepo_plot_font.h"

namespace vrepo::train {
namespace {

// A glyph wider or taller than this is no console font; the bound keeps sizes in int.
constexpr uint32_t kMaxGlyphSide = 64;
constexpr uint32_t kMaxGlyphs = 65536;

uint32_t Le32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

struct Header {
  uint32_t header_size, glyph_count, width, height, glyph_bytes;
  bool has_table, psf2;
};

Result<Header> ReadHeader(std::string_view b, const std::string& name) {
  if (b.size() >= 4 && b.substr(0, 2) == "\x36\x04") {
    const auto mode = static_cast<uint8_t>(b[2]), height = static_cast<uint8_t>(b[3]);
    return Header{4, (mode & 1) ? 512u : 256u, 8, height, height, (mode & 6) != 0, false};
  }
  if (b.size() >= 32 && b.substr(0, 4) == "\x72\xb5\x4a\x86") {
    return Header{Le32(b, 8),  Le32(b, 16), Le32(b, 28),
                  Le32(b, 24), Le32(b, 20), (Le32(b, 12) & 1) != 0,
                  true};
  }
  return Status::Corruption(name + ": not a PSF font (no PSF1 or PSF2 magic number)");
}

Status CheckHeader(const Header& h, size_t size, const std::string& name) {
  auto bad = [&](const std::string& why) { return Status::Corruption(name + ": PSF " + why); };
  if (h.width == 0 || h.width > kMaxGlyphSide || h.height == 0 || h.height > kMaxGlyphSide) {
    return bad("glyph size " + std::to_string(h.width) + "x" + std::to_string(h.height) +
               " is outside 1..64");
  }
  if (h.glyph_bytes != h.height * ((h.width + 7) / 8)) return bad("glyph byte count is wrong");
  if (h.glyph_count == 0 || h.glyph_count > kMaxGlyphs) return bad("glyph count is wrong");
  if (h.header_size < 4 || h.header_size > size ||
      (size - h.header_size) / h.glyph_bytes < h.glyph_count) {
    return bad("glyphs run past the end of the file");
  }
  return Status::OK();
}

// One glyph's entry in the Unicode table: code points up to the sequence marker or the
// terminator (PSF1: 16-bit units, 0xFFFE / 0xFFFF; PSF2: UTF-8, 0xFE / 0xFF). Sequences
// (several code points drawn as one glyph) are skipped: labels never need them.
bool ReadTableEntry(std::string_view b, size_t& at, bool psf2, std::u32string& out) {
  bool in_sequence = false;
  if (psf2) {
    size_t start = at;
    while (at < b.size() && static_cast<uint8_t>(b[at]) != 0xFF) {
      if (static_cast<uint8_t>(b[at]) == 0xFE && !in_sequence) {
        out = DecodeUtf8(b.substr(start, at - start));
        in_sequence = true;
      }
      ++at;
    }
    if (at == b.size()) return false;
    if (!in_sequence) out = DecodeUtf8(b.substr(start, at - start));
    ++at;
    return true;
  }
  for (; at + 2 <= b.size(); at += 2) {
    const char32_t unit = static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8;
    if (unit == 0xFFFF) {
      at += 2;
      return true;
    }
    if (unit == 0xFFFE) in_sequence = true;
    if (!in_sequence) out.push_back(unit);
  }
  return false;
}

}  // namespace

std::u32string DecodeUtf8(std::string_view text) {
  std::u32string out;
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const int extra = lead < 0x80             ? 0
                      : (lead & 0xE0) == 0xC0 ? 1
                      : (lead & 0xF0) == 0xE0 ? 2
                      : (lead & 0xF8) == 0xF0 ? 3
                                              : -1;
    bool ok = extra >= 0 && i + extra < text.size();
    char32_t cp = ok ? lead & (extra == 0 ? 0x7F : 0x7F >> (extra + 1)) : 0;
    for (int k = 1; ok && k <= extra; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      ok = (next & 0xC0) == 0x80;
      cp = cp << 6 | (next & 0x3F);
    }
    out.push_back(ok ? cp : U'\uFFFD');
    i += ok ? extra + 1 : 1;
  }
  return out;
}

Result<BitmapFont> BitmapFont::Parse(std::string_view bytes, const std::string& name) {
  VREPO_ASSIGN_OR_RETURN(Header h, ReadHeader(bytes, name));
  VREPO_RETURN_IF_ERROR(CheckHeader(h, bytes.size(), name));
  BitmapFont font;
  font.width_ = static_cast<int>(h.width);
  font.height_ = static_cast<int>(h.height);
  font.row_bytes_ = static_cast<int>((h.width + 7) / 8);
  font.glyph_count_ = static_cast<int>(h.glyph_count);
  const size_t glyph_end = h.header_size + size_t{h.glyph_count} * h.glyph_bytes;
  font.glyphs_ = std::string(bytes.substr(h.header_size, glyph_end - h.header_size));
  if (h.has_table) {
    size_t at = glyph_end;
    for (int i = 0; i < font.glyph_count_; ++i) {
      std::u32string code_points;
      if (!ReadTableEntry(bytes, at, h.psf2, code_points)) {
        return Status::Corruption(name + ": PSF Unicode table ends at glyph " + std::to_string(i));
      }
      for (char32_t cp : code_points) font.index_.emplace(cp, i);
    }
  }
  font.fallback_ = font.Find(U'?');
  if (font.fallback_ < 0) return Status::Corruption(name + ": PSF font has no '?' glyph");
  return font;
}

int BitmapFont::Find(char32_t code_point) const {
  if (index_.empty()) return code_point < char32_t(glyph_count_) ? int(code_point) : -1;
  auto it = index_.find(code_point);
  return it == index_.end() ? -1 : it->second;
}

int BitmapFont::GlyphIndex(char32_t code_point) const {
  const int index = Find(code_point);
  return index < 0 ? fallback_ : index;
}

bool BitmapFont::Pixel(char32_t code_point, int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return false;
  const size_t row = (size_t(GlyphIndex(code_point)) * height_ + y) * row_bytes_;
  return (static_cast<uint8_t>(glyphs_[row + x / 8]) & (0x80 >> (x % 8))) != 0;
}

Result<const BitmapFont*> PlotFont() {
  static const Result<BitmapFont> font = BitmapFont::Parse(
      std::string_view(reinterpret_cast<const char*>(kPlotFontPsf), sizeof(kPlotFontPsf)),
      std::string("embedded plot font ") + kPlotFontName);
  if (!font.ok()) return font.status();
  return &font.value();
}

}  // namespace vrepo::train
