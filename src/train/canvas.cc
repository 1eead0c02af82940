#include "canvas.h"

#include <algorithm>
#include <cstdlib>

#include "vrepo/dataset/image.h"

namespace vrepo::train {

Canvas::Canvas(int width, int height, const BitmapFont& font)
    : w_(width), h_(height), font_(font), px_(static_cast<size_t>(width) * height * 3, 255) {}

void Canvas::Set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
  uint8_t* p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::FillRect(int x0, int y0, int x1, int y1, Rgb c) {
  for (int y = std::max(y0, 0); y < std::min(y1, h_); ++y)
    for (int x = std::max(x0, 0); x < std::min(x1, w_); ++x) Set(x, y, c);
}

// Bresenham, each step a `thick`-pixel square.
void Canvas::Line(int x0, int y0, int x1, int y1, Rgb c, int thick) {
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  const int half = thick / 2;
  int err = dx + dy;
  while (true) {
    FillRect(x0 - half, y0 - half, x0 - half + thick, y0 - half + thick, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

void Canvas::DashedVLine(int x, int y0, int y1, Rgb c) {
  for (int y = y0; y <= y1; ++y) {
    if ((y - y0) % 8 < 5) FillRect(x, y, x + 2, y + 1, c);
  }
}

void Canvas::Disc(int cx, int cy, int radius, Rgb c) {
  for (int y = -radius; y <= radius; ++y)
    for (int x = -radius; x <= radius; ++x)
      if (x * x + y * y <= radius * radius + radius) Set(cx + x, cy + y, c);
}

void Canvas::Ring(int cx, int cy, int radius, Rgb c) {
  const int inner = (radius - 2) * (radius - 2) + radius, outer = radius * radius + radius;
  for (int y = -radius; y <= radius; ++y) {
    for (int x = -radius; x <= radius; ++x) {
      const int d = x * x + y * y;
      if (d > inner && d <= outer) Set(cx + x, cy + y, c);
    }
  }
}

int Canvas::TextWidth(const std::string& utf8) const {
  return static_cast<int>(DecodeUtf8(utf8).size()) * font_.width();
}

std::string Canvas::Fit(const std::string& utf8, int max_width) const {
  if (TextWidth(utf8) <= max_width) return utf8;
  const int keep = max_width / font_.width() - 3;
  if (keep <= 0) return "";
  // Cut at a code point boundary: before the (keep+1)-th lead byte.
  int seen = 0;
  for (size_t i = 0; i < utf8.size(); ++i) {
    if ((static_cast<uint8_t>(utf8[i]) & 0xC0) != 0x80 && seen++ == keep) {
      return utf8.substr(0, i) + "...";
    }
  }
  return utf8;
}

template <class Put>
void Canvas::Glyphs(const std::string& utf8, Put put) const {
  const int fw = font_.width(), fh = font_.height();
  int offset = 0;
  for (char32_t cp : DecodeUtf8(utf8)) {
    for (int gy = 0; gy < fh; ++gy)
      for (int gx = 0; gx < fw; ++gx)
        if (font_.Pixel(cp, gx, gy)) put(offset + gx, gy);
    offset += fw;
  }
}

void Canvas::Text(int x, int y, const std::string& utf8, Rgb c) {
  Glyphs(utf8, [&](int gx, int gy) { Set(x + gx, y + gy, c); });
}

void Canvas::TextUp(int x, int y, const std::string& utf8, Rgb c) {
  Glyphs(utf8, [&](int gx, int gy) { Set(x + gy, y - 1 - gx, c); });
}

void Canvas::Paste(const Canvas& src, int x, int y) {
  for (int sy = 0; sy < src.h_; ++sy) {
    for (int sx = 0; sx < src.w_; ++sx) {
      const uint8_t* p = &src.px_[(static_cast<size_t>(sy) * src.w_ + sx) * 3];
      Set(x + sx, y + sy, Rgb{p[0], p[1], p[2]});
    }
  }
}

Result<std::string> Canvas::EncodePng() const {
  DecodedImage image;
  image.width = static_cast<uint32_t>(w_);
  image.height = static_cast<uint32_t>(h_);
  image.channels = 3;
  image.pixels = px_;
  return vrepo::EncodePng(image);
}

}  // namespace vrepo::train
