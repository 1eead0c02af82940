#include "vrepo/train/plots.h"

#include <spng.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace vrepo::train {
namespace {

struct Rgb {
  uint8_t r, g, b;
};

// An RGB canvas with the few primitives the charts need.
class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), px_(static_cast<size_t>(w) * h * 3, 255) {}

  void Set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    uint8_t* p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void FillRect(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) Set(x, y, c);
  }
  // Bresenham, `thick` pixels wide.
  void Line(int x0, int y0, int x1, int y1, Rgb c, int thick = 1) {
    int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    while (true) {
      FillRect(x0 - thick / 2, y0 - thick / 2, x0 - thick / 2 + thick, y0 - thick / 2 + thick, c);
      if (x0 == x1 && y0 == y1) break;
      int e2 = 2 * err;
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
  // Digits, '.' and '-' in a 5x7 font, scaled by `scale`; returns the width drawn.
  int Text(int x, int y, const std::string& s, Rgb c, int scale = 1) {
    // Rows of 5 bits, top first.
    static const uint8_t kDigits[10][7] = {
        {14, 17, 19, 21, 25, 17, 14}, {4, 12, 4, 4, 4, 4, 14},  {14, 17, 1, 2, 4, 8, 31},
        {31, 2, 4, 2, 1, 17, 14},     {2, 6, 10, 18, 31, 2, 2}, {31, 16, 30, 1, 1, 17, 14},
        {6, 8, 16, 30, 17, 17, 14},   {31, 1, 2, 4, 8, 8, 8},   {14, 17, 17, 14, 17, 17, 14},
        {14, 17, 17, 15, 1, 2, 12}};
    static const uint8_t kDot[7] = {0, 0, 0, 0, 0, 12, 12};
    static const uint8_t kMinus[7] = {0, 0, 0, 31, 0, 0, 0};
    int start = x;
    for (char ch : s) {
      const uint8_t* glyph = nullptr;
      if (ch >= '0' && ch <= '9') glyph = kDigits[ch - '0'];
      if (ch == '.') glyph = kDot;
      if (ch == '-') glyph = kMinus;
      if (glyph) {
        for (int row = 0; row < 7; ++row)
          for (int col = 0; col < 5; ++col)
            if (glyph[row] & (16 >> col))
              FillRect(x + col * scale, y + row * scale, x + (col + 1) * scale,
                       y + (row + 1) * scale, c);
      }
      x += 6 * scale;
    }
    return x - start;
  }

  Result<std::string> EncodePng() const {
    struct CtxFree {
      void operator()(spng_ctx* c) const { spng_ctx_free(c); }
    };
    std::unique_ptr<spng_ctx, CtxFree> ctx(spng_ctx_new(SPNG_CTX_ENCODER));
    if (!ctx) return Status::IOError("plot: spng_ctx_new failed");
    spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
    spng_ihdr ihdr{};
    ihdr.width = static_cast<uint32_t>(w_);
    ihdr.height = static_cast<uint32_t>(h_);
    ihdr.bit_depth = 8;
    ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    int rc = spng_set_ihdr(ctx.get(), &ihdr);
    if (rc == 0) {
      rc = spng_encode_image(ctx.get(), px_.data(), px_.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    }
    size_t len = 0;
    void* buf = rc == 0 ? spng_get_png_buffer(ctx.get(), &len, &rc) : nullptr;
    if (!buf)
      return Status::IOError(std::string("plot: PNG encoding failed: ") + spng_strerror(rc));
    std::string out(static_cast<const char*>(buf), len);
    std::free(buf);
    return out;
  }

 private:
  int w_, h_;
  std::vector<uint8_t> px_;
};

constexpr Rgb kAxis{60, 60, 60};
constexpr Rgb kGrid{225, 225, 225};

std::string Number(double v) {
  char buf[32];
  double a = std::fabs(v);
  std::snprintf(buf, sizeof(buf), a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v);
  return buf;
}

}  // namespace

Result<std::string> PlotLines(const std::vector<PlotSeries>& series,
                              const LinePlotOptions& options) {
  if (options.width < 64 || options.height < 64) {
    return Status::InvalidArgument("plot: size must be at least 64x64");
  }
  size_t n = 0;
  double lo = options.y_min, hi = options.y_max;
  bool from_data = lo == hi;
  if (from_data) {
    lo = INFINITY;
    hi = -INFINITY;
  }
  for (const auto& s : series) {
    n = std::max(n, s.values.size());
    if (!from_data) continue;
    for (double v : s.values) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  Canvas c(options.width, options.height);
  const int left = 50, right = options.width - 12, top = 12, bottom = options.height - 30;
  auto xp = [&](size_t i) {
    return n <= 1 ? (left + right) / 2
                  : left + static_cast<int>(std::lround(double(i) * (right - left) / (n - 1)));
  };
  auto yp = [&](double v) {
    return bottom - static_cast<int>(std::lround((v - lo) / (hi - lo) * (bottom - top)));
  };
  for (int t = 0; t <= 4; ++t) {
    double v = lo + (hi - lo) * t / 4;
    int y = yp(v);
    c.Line(left, y, right, y, kGrid);
    std::string label = Number(v);
    c.Text(left - 6 - 6 * static_cast<int>(label.size()), y - 3, label, kAxis);
  }
  c.Line(left, top, left, bottom, kAxis);
  c.Line(left, bottom, right, bottom, kAxis);
  // Epoch numbers, at most about ten of them.
  size_t step = std::max<size_t>(1, (n + 9) / 10);
  for (size_t i = 0; i < n; i += step) {
    int x = xp(i);
    c.Line(x, bottom, x, bottom + 4, kAxis);
    std::string label = std::to_string(i + 1);
    c.Text(x - 3 * static_cast<int>(label.size()), bottom + 8, label, kAxis);
  }
  for (const auto& s : series) {
    Rgb color{s.r, s.g, s.b};
    bool have_prev = false;
    int px = 0, py = 0;
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (!std::isfinite(s.values[i])) {
        have_prev = false;
        continue;
      }
      int x = xp(i), y = yp(s.values[i]);
      if (have_prev) c.Line(px, py, x, y, color, 2);
      c.FillRect(x - 2, y - 2, x + 3, y + 3, color);
      px = x;
      py = y;
      have_prev = true;
    }
  }
  return c.EncodePng();
}

Result<std::string> PlotConfusion(const std::vector<std::vector<int64_t>>& matrix,
                                  int cell_pixels) {
  const int k = static_cast<int>(matrix.size());
  if (k == 0) return Status::InvalidArgument("plot: empty confusion matrix");
  for (const auto& row : matrix) {
    if (static_cast<int>(row.size()) != k) {
      return Status::InvalidArgument("plot: confusion matrix is not square");
    }
  }
  if (cell_pixels < 8 || cell_pixels > 256) {
    return Status::InvalidArgument("plot: cell size must be 8..256 pixels");
  }
  const int margin = 24;
  Canvas c(margin + k * cell_pixels + 1, margin + k * cell_pixels + 1);
  for (int i = 0; i < k; ++i) {
    int64_t total = 0;
    for (int64_t v : matrix[i]) total += std::max<int64_t>(v, 0);
    for (int j = 0; j < k; ++j) {
      double share = total ? double(std::max<int64_t>(matrix[i][j], 0)) / double(total) : 0;
      // White to blue on the diagonal (right), white to red off it (confusions).
      uint8_t fade = static_cast<uint8_t>(std::lround(255 * (1 - share)));
      Rgb color = i == j ? Rgb{fade, fade, 255} : Rgb{255, fade, fade};
      int x = margin + j * cell_pixels, y = margin + i * cell_pixels;
      c.FillRect(x, y, x + cell_pixels, y + cell_pixels, color);
    }
    std::string label = std::to_string(i);
    c.Text(2, margin + i * cell_pixels + cell_pixels / 2 - 3, label, kAxis);
    c.Text(margin + i * cell_pixels + cell_pixels / 2 - 3 * static_cast<int>(label.size()), 8,
           label, kAxis);
  }
  for (int i = 0; i <= k; ++i) {
    int p = margin + i * cell_pixels;
    c.Line(margin, p, margin + k * cell_pixels, p, kGrid);
    c.Line(p, margin, p, margin + k * cell_pixels, kGrid);
  }
  return c.EncodePng();
}

Result<std::vector<std::pair<std::string, std::string>>> RunPlots(const RunManifest& result) {
  std::vector<std::pair<std::string, std::string>> files;
  if (result.epochs.empty()) return files;
  PlotSeries train_loss{{}, 31, 119, 180}, val_loss{{}, 255, 127, 14};
  PlotSeries accuracy{{}, 44, 160, 44};
  for (const auto& m : result.epochs) {
    train_loss.values.push_back(m.train_loss);
    val_loss.values.push_back(m.val_loss);
    accuracy.values.push_back(m.val_accuracy);
  }
  // Losses from zero, so that the curves' scale reads honestly.
  LinePlotOptions from_zero;
  for (const auto& m : result.epochs) {
    from_zero.y_max = std::max({from_zero.y_max, m.train_loss, m.val_loss});
  }
  from_zero.y_max =
      from_zero.y_max > 0 && std::isfinite(from_zero.y_max) ? from_zero.y_max * 1.05 : 1;
  VREPO_ASSIGN_OR_RETURN(std::string loss, PlotLines({train_loss, val_loss}, from_zero));
  files.emplace_back("plots/loss.png", std::move(loss));
  LinePlotOptions unit;
  unit.y_min = 0;
  unit.y_max = 1;
  VREPO_ASSIGN_OR_RETURN(std::string acc, PlotLines({accuracy}, unit));
  files.emplace_back("plots/accuracy.png", std::move(acc));
  if (!result.confusion.empty()) {
    int cell = result.confusion.size() > 32 ? 8 : 32;
    VREPO_ASSIGN_OR_RETURN(std::string conf, PlotConfusion(result.confusion, cell));
    files.emplace_back("plots/confusion.png", std::move(conf));
  }
  return files;
}

}  // namespace vrepo::train
