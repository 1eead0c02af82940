#include "vrepo/train/plots.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "canvas.h"  // Rgb
#include "must.h"
#include "psf_font.h"
#include "vrepo/dataset/image.h"

namespace vrepo::train {
namespace {

using testing::Must;

constexpr Rgb kTrainBlue{31, 119, 180};
constexpr Rgb kAccuracyGreen{44, 160, 44};
constexpr Rgb kMarkerGrey{100, 100, 100};
// Rows below the title and legend of a 420-pixel line plot: the plot area.
constexpr int kPlotTop = 60;

struct Image {
  DecodedImage d;
  int width() const { return static_cast<int>(d.width); }
  int height() const { return static_cast<int>(d.height); }
  Rgb At(int x, int y) const {
    const uint8_t* p = &d.pixels[(static_cast<size_t>(y) * d.width + x) * 3];
    return {p[0], p[1], p[2]};
  }
  bool Is(int x, int y, Rgb c) const {
    const Rgb p = At(x, y);
    return p.r == c.r && p.g == c.g && p.b == c.b;
  }
};

Image Decode(const std::string& png) {
  DecodeOptions rgb;
  rgb.channels = 3;
  return {Must(DecodeImage(png, "plot.png", rgb))};
}

std::string File(const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& path) {
  for (const auto& [p, bytes] : files) {
    if (p == path) return bytes;
  }
  FAIL("no " << path);
  return "";
}

RunManifest Run(int epochs, int classes) {
  RunManifest run;
  run.name = "r1";
  for (int e = 1; e <= epochs; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.train_loss = 1.0 / e;
    m.val_loss = 1.2 / e;
    m.val_accuracy = 0.85 + 0.03 * e / epochs;
    run.epochs.push_back(m);
  }
  run.best_epoch = epochs;
  for (int i = 0; i < classes; ++i) run.classes.push_back("class" + std::to_string(i));
  run.confusion.assign(classes, std::vector<int64_t>(classes, 1));
  for (int i = 0; i < classes; ++i) run.confusion[i][i] = 50;
  return run;
}

// The columns [x0, x1] and rows [y0, y1] holding pixels of colour c below the legend.
struct Box {
  int x0 = 1 << 30, x1 = -1, y0 = 1 << 30, y1 = -1;
};
Box ColourBox(const Image& img, Rgb c) {
  Box b;
  for (int y = kPlotTop; y < img.height(); ++y) {
    for (int x = 0; x < img.width(); ++x) {
      if (!img.Is(x, y, c)) continue;
      b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x);
      b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y);
    }
  }
  return b;
}

// The column with the most marker-grey pixels, and how many it has.
std::pair<int, int> MarkerColumn(const Image& img) {
  std::pair<int, int> best{-1, 0};
  for (int x = 0; x < img.width(); ++x) {
    int n = 0;
    for (int y = 0; y < img.height(); ++y) n += img.Is(x, y, kMarkerGrey);
    if (n > best.second) best = {x, n};
  }
  return best;
}

TEST_CASE("plots: NiceTicks gives round 1-2-5 steps within the range") {
  CHECK(NiceTicks(0, 1.7, 6) == std::vector<double>{0, 0.5, 1.0, 1.5});
  CHECK(NiceTicks(0.823, 0.897, 6) == std::vector<double>{0.84, 0.86, 0.88});
  CHECK(NiceTicks(0, 1, 6) == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0});
  CHECK(NiceTicks(1, 150, 14) == std::vector<double>{20, 40, 60, 80, 100, 120, 140});
  CHECK(NiceTicks(0.5, 0.5, 5) == std::vector<double>{0.5});
  CHECK(NiceTicks(NAN, 1, 5).empty());
  CHECK(NiceTicks(0, INFINITY, 5).empty());
  CHECK(NiceTicks(2, 1, 5).empty());
  CHECK(NiceTicks(0, 1, 0).empty());
  CHECK(NiceTicks(-1e300, 1e300, 5).size() <= 5);
}

TEST_CASE("plots: a single-epoch run shows its point with the value beside it") {
  auto files = Must(RunPlots(Run(1, 3)));
  const Image loss = Decode(File(files, "plots/loss.png"));
  const Box b = ColourBox(loss, kTrainBlue);
  REQUIRE(b.x1 >= 0);
  // The point (a disc about 11 pixels wide) and "1.00" written right of it.
  CHECK(b.x1 - b.x0 >= 30);
  const Image accuracy = Decode(File(files, "plots/accuracy.png"));
  CHECK(ColourBox(accuracy, kAccuracyGreen).x1 - ColourBox(accuracy, kAccuracyGreen).x0 >= 30);
}

TEST_CASE("plots: line plots are titled in dark text above the plot") {
  const Image loss = Decode(File(Must(RunPlots(Run(10, 3))), "plots/loss.png"));
  int dark = 0;
  for (int y = 0; y < 26; ++y) {
    for (int x = loss.width() / 3; x < 2 * loss.width() / 3; ++x) {
      const Rgb p = loss.At(x, y);
      dark += p.r < 80 && p.g < 80 && p.b < 80;
    }
  }
  CHECK(dark > 100);
}

TEST_CASE("plots: the best epoch is marked by a dashed line at its epoch") {
  RunManifest run = Run(10, 3);
  run.best_epoch = 7;
  auto late = MarkerColumn(Decode(File(Must(RunPlots(run)), "plots/accuracy.png")));
  run.best_epoch = 3;
  auto early = MarkerColumn(Decode(File(Must(RunPlots(run)), "plots/loss.png")));
  CHECK(late.second > 100);
  CHECK(early.second > 100);
  CHECK(early.first < late.first);
}

TEST_CASE("plots: the accuracy axis is fitted to the data") {
  // Accuracy from 0.853 to 0.88: on a 0..1 axis the curve would be a few pixels tall.
  const Image accuracy = Decode(File(Must(RunPlots(Run(10, 3))), "plots/accuracy.png"));
  const Box b = ColourBox(accuracy, kAccuracyGreen);
  CHECK(b.y1 - b.y0 > accuracy.height() / 3);
}

TEST_CASE("plots: the confusion matrix makes room for longer class names") {
  const std::vector<std::vector<int64_t>> m = {{5, 1}, {2, 7}};
  ConfusionPlotOptions short_names, long_names;
  short_names.classes = {"a", "b"};
  long_names.classes = {"a_much_longer_name", "b"};
  const Image small = Decode(Must(PlotConfusion(m, short_names)));
  const Image large = Decode(Must(PlotConfusion(m, long_names)));
  CHECK(large.width() > small.width() + 80);
  CHECK(large.height() > small.height() + 80);
}

TEST_CASE(
    "plots: nothing fails for 0, 1 or 200 classes, NaN or huge values, or an interrupted run") {
  for (int classes : {0, 1, 200}) {
    CAPTURE(classes);
    auto files = Must(RunPlots(Run(3, classes)));
    CHECK(files.size() == (classes ? 3u : 2u));
    for (const auto& [path, png] : files) Decode(png);
  }
  RunManifest run = Run(4, 2);
  run.status = RunStatus::kInterrupted;
  for (auto& m : run.epochs) m.val_loss = m.val_accuracy = NAN;
  run.epochs[0].train_loss = NAN;
  auto files = Must(RunPlots(run));
  CHECK(files.size() == 3);
  for (const auto& [path, png] : files) Decode(png);
  CHECK(Must(RunPlots(Run(0, 2))).empty());
  CHECK(PlotConfusion({{1, 2}}).status().code() == Status::Code::kInvalidArgument);
  Decode(Must(PlotLines({{"huge", {1e308, -1e308, NAN, 0}, 0, 0, 0}})));
  LinePlotOptions infinite;
  infinite.y_max = INFINITY;
  CHECK(PlotLines({}, infinite).status().code() == Status::Code::kInvalidArgument);
}

// A PSF2 font of two 8x2 glyphs: '?' (top row set) and 'A' (bottom row set).
std::string TinyPsf2() {
  std::string f = {'\x72', '\xb5', '\x4a', '\x86'};
  for (uint32_t v : {0u, 32u, 1u, 2u, 2u, 2u, 8u}) {
    for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>(v >> (8 * i)));
  }
  f += std::string("\xff\x00\x00\xff", 4);
  f += "?\xff"
       "A\xff";
  return f;
}

TEST_CASE("plots: PSF fonts are parsed and their sizes checked") {
  BitmapFont font = Must(BitmapFont::Parse(TinyPsf2(), "tiny"));
  CHECK(font.width() == 8);
  CHECK(font.height() == 2);
  CHECK(font.Pixel(U'?', 0, 0));
  CHECK(!font.Pixel(U'A', 0, 0));
  CHECK(font.Pixel(U'A', 7, 1));
  CHECK(font.Pixel(U'z', 3, 0));  // missing: drawn as '?'
  const std::string f = TinyPsf2();
  CHECK(BitmapFont::Parse(f.substr(0, 34), "tiny").status().code() == Status::Code::kCorruption);
  CHECK(BitmapFont::Parse(f.substr(0, f.size() - 1), "tiny").status().message() ==
        "tiny: PSF Unicode table ends at glyph 1");
  CHECK(!BitmapFont::Parse("not a font", "x").ok());
  const BitmapFont* plot_font = Must(PlotFont());
  CHECK(plot_font->height() >= 12);
}

}  // namespace
}  // namespace vrepo::train
