// Canvas: an RGB raster with the few primitives the plots draw (rectangles, lines, discs,
// text in a bitmap font, upright or turned to read upwards) and its PNG encoding. Drawing
// outside the canvas is clipped. One canvas per thread; the font is shared and read-only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psf_font.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct Rgb {
  uint8_t r, g, b;
};

class Canvas {
 public:
  // A white canvas; `font` must outlive it.
  Canvas(int width, int height, const BitmapFont& font);

  int width() const { return w_; }
  int height() const { return h_; }
  int line_height() const { return font_.height(); }

  void FillRect(int x0, int y0, int x1, int y1, Rgb c);  // [x0, x1) x [y0, y1)
  void Line(int x0, int y0, int x1, int y1, Rgb c, int thick = 1);
  void DashedVLine(int x, int y0, int y1, Rgb c);
  void Disc(int cx, int cy, int radius, Rgb c);
  void Ring(int cx, int cy, int radius, Rgb c);  // two pixels wide

  int TextWidth(const std::string& utf8) const;
  // `utf8` cut to at most `max_width` pixels, ending in "..." when cut.
  std::string Fit(const std::string& utf8, int max_width) const;
  // Text whose top-left corner is (x, y).
  void Text(int x, int y, const std::string& utf8, Rgb c);
  // Text turned 90 degrees to read upwards, starting at (x, y) bottom-left; it fills columns
  // x .. x + line_height() and rows y - TextWidth() .. y.
  void TextUp(int x, int y, const std::string& utf8, Rgb c);

  // Copies `src` onto this canvas with its top-left corner at (x, y), clipped: panels drawn
  // apart and laid out in one image.
  void Paste(const Canvas& src, int x, int y);

  Result<std::string> EncodePng() const;

 private:
  void Set(int x, int y, Rgb c);
  // Calls put(gx, gy) for each set pixel of each glyph, gx counted along the text.
  template <class Put>
  void Glyphs(const std::string& utf8, Put put) const;

  int w_, h_;
  const BitmapFont& font_;
  std::vector<uint8_t> px_;
};

}  // namespace vrepo::train
