// BitmapFont: a PC Screen Font (PSF version 1 or 2, as Debian's console fonts are) parsed into
// glyph bitmaps and a code point -> glyph map, and PlotFont(), the font the plots embed at
// build time. Immutable after parsing; safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vrepo/util/status.h"

namespace vrepo::train {

class BitmapFont {
 public:
  // Checks the header, the glyph sizes and the Unicode table against the bytes' length;
  // Corruption "NAME: ..." otherwise. Without a Unicode table, glyph i is code point i.
  static Result<BitmapFont> Parse(std::string_view bytes, const std::string& name);

  int width() const { return width_; }
  int height() const { return height_; }
  // Whether pixel (x, y) of `code_point`'s glyph is set; code points the font lacks draw
  // as '?' (every parsed font has one).
  bool Pixel(char32_t code_point, int x, int y) const;

 private:
  int Find(char32_t code_point) const;  // -1 when the font lacks it
  int GlyphIndex(char32_t code_point) const;

  std::string glyphs_;  // glyph_count * height_ rows of row_bytes_ bytes, MSB leftmost
  int width_ = 0, height_ = 0, row_bytes_ = 0, fallback_ = 0;
  std::unordered_map<char32_t, int> index_;  // empty: glyph i is code point i
  int glyph_count_ = 0;
};

// The plots' font, parsed once from the bytes CMake embedded (cmake/embed_font.cmake).
Result<const BitmapFont*> PlotFont();

// The code points of UTF-8 `text`; a malformed byte becomes U+FFFD.
std::u32string DecodeUtf8(std::string_view text);

}  // namespace vrepo::train
