#include "vrepo/train/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "canvas.h"

namespace vrepo::train {
namespace {

constexpr Rgb kText{30, 30, 30};
constexpr Rgb kAxis{90, 90, 90};
constexpr Rgb kGrid{228, 228, 228};
constexpr Rgb kMarker{100, 100, 100};
constexpr int kMargin = 8;
// Points sit this far inside the plot's left and right edges, off the axis line.
constexpr int kInset = 10;
// Tick steps come from these mantissas; each tick is a whole multiple of the step.
constexpr int kMantissas[] = {1, 2, 5};

// mantissa x 10^exponent, kept apart so that tick values come out as exact as decimals can.
struct Step {
  int mantissa;
  int exponent;
  double Multiple(double k) const {
    const double m = k * mantissa;
    return exponent >= 0 ? m * std::pow(10.0, exponent) : m / std::pow(10.0, -exponent);
  }
  double value() const { return Multiple(1); }
  int decimals() const { return std::max(0, -exponent); }
};

double CountMultiples(double lo, double hi, double step) {
  return std::floor(hi / step + 1e-9) - std::ceil(lo / step - 1e-9) + 1;
}

// The smallest 1-2-5 step with at most max_count multiples in [lo, hi] (lo < hi).
Step NiceStep(double lo, double hi, int max_count) {
  const double raw = (hi - lo) / std::max(1, max_count - 1);
  const int base = static_cast<int>(std::floor(std::log10(raw)));
  // Ends within 1e300 of each other stop the loop long before its bound.
  for (int i = 0; i < 3 * 700; ++i) {
    const Step step{kMantissas[i % 3], base + i / 3};
    if (CountMultiples(lo, hi, step.value()) <= max_count) return step;
  }
  return {1, 300};
}

// The step's multiples within [lo, hi], ascending.
std::vector<double> Multiples(double lo, double hi, Step step) {
  std::vector<double> out;
  const double last = std::floor(hi / step.value() + 1e-9);
  for (double k = std::ceil(lo / step.value() - 1e-9); k <= last; ++k) {
    out.push_back(step.Multiple(k) + 0.0);  // + 0.0: no "-0.0" label
  }
  return out;
}

std::string Format(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// Three significant digits, as a value written beside a point or in a legend reads best.
std::string Significant(double v) {
  const int digits = v == 0 ? 0 : static_cast<int>(std::floor(std::log10(std::fabs(v))));
  return Format(v, std::clamp(2 - digits, 0, 9));
}

// ---- line plots ------------------------------------------------------------------------

struct LegendEntry {
  std::string text;
  Rgb color;
  bool marker;  // the best-epoch marker, not a series
};

// Maps epochs and values to pixels inside the plot area.
struct Frame {
  int left, right, top, bottom;
  double x0, x1, y0, y1;
  int X(double epoch) const {
    return left + kInset +
           static_cast<int>(std::lround((epoch - x0) / (x1 - x0) * (right - left - 2 * kInset)));
  }
  int Y(double v) const {
    const int y = bottom - static_cast<int>(std::lround((v - y0) / (y1 - y0) * (bottom - top)));
    return std::clamp(y, top, bottom);  // values outside a fixed range stay on its edge
  }
};

struct YAxis {
  double lo, hi;
  Step step;
};

bool Free(double end) { return std::isnan(end); }

// The y axis: fixed ends as given, free ends fitted to the data and rounded out to a tick.
YAxis FitY(const std::vector<PlotSeries>& series, const LinePlotOptions& o, int max_ticks) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series) {
    for (double v : s.values) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  if (lo > hi) lo = 0, hi = 1;
  // Beyond this the range's width overflows; such values are drawn on the axis' edge.
  constexpr double kLargest = 1e100;
  lo = std::clamp(lo, -kLargest, kLargest), hi = std::clamp(hi, -kLargest, kLargest);
  lo = Free(o.y_min) ? std::max(lo, o.y_floor) : o.y_min;
  hi = Free(o.y_max) ? std::min(hi, o.y_ceiling) : o.y_max;
  if (!(hi - lo > 1e-9 * std::max(1.0, std::fabs(hi)))) {
    // One value (a single epoch, a flat curve): a little room around it.
    const double pad = std::max(std::fabs(hi) * 0.05, 0.01);
    if (Free(o.y_min)) lo = std::max(lo - pad, o.y_floor);
    if (Free(o.y_max)) hi = std::min(hi + pad, o.y_ceiling);
    if (!(hi > lo)) hi = lo + 1;
  }
  Step step = NiceStep(lo, hi, max_ticks);
  if (Free(o.y_min)) lo = std::max(step.Multiple(std::floor(lo / step.value() + 1e-9)), o.y_floor);
  if (Free(o.y_max)) hi = std::min(step.Multiple(std::ceil(hi / step.value() - 1e-9)), o.y_ceiling);
  return {lo, hi, step};
}

std::vector<LegendEntry> LegendEntries(const std::vector<PlotSeries>& series,
                                       const LinePlotOptions& o) {
  std::vector<LegendEntry> entries;
  for (const auto& s : series) {
    const bool empty =
        std::none_of(s.values.begin(), s.values.end(), [](double v) { return std::isfinite(v); });
    entries.push_back({s.name + (empty ? " (no values)" : ""), {s.r, s.g, s.b}, false});
  }
  if (o.marker_epoch > 0 && !o.marker_label.empty()) {
    entries.push_back({o.marker_label, kMarker, true});
  }
  return entries;
}

constexpr int kSwatch = 28;  // a legend entry's sample line, with the gap after it
constexpr int kEntryGap = 20;

int EntryWidth(const Canvas& c, const LegendEntry& e) { return kSwatch + c.TextWidth(e.text); }

// Entries in rows that fit `width`, greedily.
std::vector<std::vector<LegendEntry>> LegendRows(const Canvas& c,
                                                 const std::vector<LegendEntry>& entries,
                                                 int width) {
  std::vector<std::vector<LegendEntry>> rows;
  int used = 0;
  for (const auto& e : entries) {
    const int w = EntryWidth(c, e);
    if (rows.empty() || used + kEntryGap + w > width) {
      rows.emplace_back();
      used = -kEntryGap;
    }
    rows.back().push_back(e);
    used += kEntryGap + w;
  }
  return rows;
}

void DrawLegendRow(Canvas& c, const std::vector<LegendEntry>& row, int y) {
  int total = -kEntryGap;
  for (const auto& e : row) total += kEntryGap + EntryWidth(c, e);
  int x = (c.width() - total) / 2;
  const int mid = y + c.line_height() / 2;
  for (const auto& e : row) {
    if (e.marker) {
      c.DashedVLine(x + 10, y, y + c.line_height(), e.color);
      c.Ring(x + 10, mid, 5, kText);
    } else {
      c.Line(x, mid, x + 20, mid, e.color, 3);
      c.Disc(x + 10, mid, 3, e.color);
    }
    c.Text(x + kSwatch, y, e.text, kText);
    x += kEntryGap + EntryWidth(c, e);
  }
}

void DrawYAxis(Canvas& c, const Frame& f, const YAxis& y, const std::string& title) {
  for (double v : Multiples(y.lo, y.hi, y.step)) {
    const int py = f.Y(v);
    c.Line(f.left, py, f.right, py, kGrid);
    c.Line(f.left - 4, py, f.left, py, kAxis);
    const std::string label = Format(v, y.step.decimals());
    c.Text(f.left - 7 - c.TextWidth(label), py - c.line_height() / 2, label, kText);
  }
  const std::string t = c.Fit(title, f.bottom - f.top);
  c.TextUp(kMargin, (f.top + f.bottom + c.TextWidth(t)) / 2, t, kText);
}

void DrawXAxis(Canvas& c, const Frame& f, size_t n, const std::string& title) {
  const int max_labels = std::max(2, (f.right - f.left) / (c.TextWidth("0") * 6));
  for (double v : NiceTicks(f.x0, f.x1, max_labels)) {
    if (v != std::floor(v) || v < 1 || v > double(n)) continue;  // epochs only
    const int px = f.X(v);
    c.Line(px, f.bottom, px, f.bottom + 4, kAxis);
    const std::string label = Format(v, 0);
    c.Text(px - c.TextWidth(label) / 2, f.bottom + 6, label, kText);
  }
  const std::string t = c.Fit(title, f.right - f.left);
  c.Text((f.left + f.right - c.TextWidth(t)) / 2, c.height() - kMargin - c.line_height(), t, kText);
}

size_t FiniteCount(const std::vector<double>& values) {
  return std::count_if(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// A lone point's value, written beside it: there is no line to read it against.
struct PointLabel {
  int x, y;
  std::string text;
  Rgb color;
};

// Draws the series; returns the label of its point when it has a single value.
std::vector<PointLabel> DrawSeries(Canvas& c, const Frame& f, const PlotSeries& s, size_t n) {
  const Rgb color{s.r, s.g, s.b};
  const bool dots = n <= 40;
  bool have_prev = false;
  int px = 0, py = 0;
  double last = 0;
  for (size_t i = 0; i < s.values.size(); ++i) {
    if (!std::isfinite(s.values[i])) {
      have_prev = false;
      continue;
    }
    const int x = f.X(double(i + 1)), y = f.Y(s.values[i]);
    if (have_prev) c.Line(px, py, x, y, color, 2);
    if (dots) c.Disc(x, y, 3, color);
    px = x, py = y, last = s.values[i], have_prev = true;
  }
  if (FiniteCount(s.values) != 1) return {};
  c.Disc(px, py, 5, color);
  return {{px, py, Significant(last), color}};
}

// Writes the labels right of their points (left near the edge), moved apart vertically so
// that two points at about the same value keep readable labels.
void DrawPointLabels(Canvas& c, const Frame& f, std::vector<PointLabel> labels) {
  std::sort(labels.begin(), labels.end(),
            [](const PointLabel& a, const PointLabel& b) { return a.y < b.y; });
  const int lh = c.line_height();
  int next_free = f.top - lh;
  for (const auto& l : labels) {
    const int w = c.TextWidth(l.text);
    const int x = l.x + 14 + w <= f.right ? l.x + 14 : l.x - 14 - w;
    const int y = std::max(l.y - lh / 2, next_free);
    c.Text(x, y, l.text, l.color);
    next_free = y + lh;
  }
}

void DrawMarker(Canvas& c, const Frame& f, const std::vector<PlotSeries>& series, int epoch) {
  const int x = f.X(epoch);
  c.DashedVLine(x, f.top, f.bottom, kMarker);
  for (const auto& s : series) {
    const size_t i = static_cast<size_t>(epoch) - 1;
    if (i < s.values.size() && std::isfinite(s.values[i])) c.Ring(x, f.Y(s.values[i]), 8, kText);
  }
}

void DrawTitle(Canvas& c, const std::string& title) {
  const std::string t = c.Fit(title, c.width() - 2 * kMargin);
  c.Text((c.width() - c.TextWidth(t)) / 2, kMargin, t, kText);
}

// The plot area left after the title, legend, axis labels and axis titles.
Frame LayOut(const Canvas& c, int legend_rows, size_t n) {
  const int lh = c.line_height();
  Frame f{};
  f.top = kMargin + lh + 8 + legend_rows * (lh + 4) + 8;
  f.bottom = c.height() - kMargin - lh - 4 - lh - 8;
  f.right = c.width() - kMargin - 8;
  // One epoch sits in the middle; more span the width.
  f.x0 = n <= 1 ? 0 : 1;
  f.x1 = n <= 1 ? 2 : double(n);
  return f;
}

Status CheckLinePlotOptions(const LinePlotOptions& options) {
  if (options.width < 200 || options.height < 150 || options.width > 8192 ||
      options.height > 8192) {
    return Status::InvalidArgument("plot: size must be 200x150 to 8192x8192 pixels");
  }
  if (std::isinf(options.y_min) || std::isinf(options.y_max)) {
    return Status::InvalidArgument("plot: y_min and y_max must be finite or NaN (fitted)");
  }
  return Status::OK();
}

// A line plot filling canvas `c` (options' size already checked).
Status DrawLinePlot(Canvas& c, const std::vector<PlotSeries>& series,
                    const LinePlotOptions& options) {
  size_t n = 0;
  for (const auto& s : series) n = std::max(n, s.values.size());
  const auto legend = LegendRows(c, LegendEntries(series, options), c.width() - 2 * kMargin);
  Frame f = LayOut(c, static_cast<int>(legend.size()), n);
  const YAxis y = FitY(series, options, std::max(2, (f.bottom - f.top) / (2 * c.line_height())));
  f.y0 = y.lo;
  f.y1 = y.hi;
  int label_width = 0;
  for (double v : Multiples(y.lo, y.hi, y.step)) {
    label_width = std::max(label_width, c.TextWidth(Format(v, y.step.decimals())));
  }
  f.left = kMargin + c.line_height() + 6 + label_width + 8;
  if (f.right - f.left < 4 * kInset || f.bottom - f.top < 20) {
    return Status::InvalidArgument("plot: too small for its labels");
  }

  DrawYAxis(c, f, y, options.y_title);
  const bool marked = options.marker_epoch >= 1 && size_t(options.marker_epoch) <= n;
  if (marked) DrawMarker(c, f, series, options.marker_epoch);
  std::vector<PointLabel> labels;
  for (const auto& s : series) {
    for (auto& l : DrawSeries(c, f, s, n)) labels.push_back(std::move(l));
  }
  DrawPointLabels(c, f, std::move(labels));
  c.Line(f.left, f.top, f.left, f.bottom, kAxis);
  c.Line(f.left, f.bottom, f.right, f.bottom, kAxis);
  DrawXAxis(c, f, n, options.x_title);
  DrawTitle(c, options.title);
  for (size_t i = 0; i < legend.size(); ++i) {
    DrawLegendRow(c, legend[i], kMargin + c.line_height() + 8 + int(i) * (c.line_height() + 4));
  }
  return Status::OK();
}

// ---- confusion matrix ------------------------------------------------------------------

// Counts are written in the cells up to this many classes, names kept up to the second.
constexpr int kMaxClassesWithCounts = 30;
constexpr int kMaxClassesWithNames = 80;
constexpr int kMaxNameChars = 20;
constexpr int kBarWidth = 16;
constexpr int kMinBarHeight = 180;
// Without names, the matrix is drawn about this many pixels wide.
constexpr int kNamelessMatrixPixels = 800;

// White to dark blue (matplotlib's "Blues" at 0, 1/4, 1/2, 3/4 and 1).
Rgb Shade(double share) {
  static constexpr Rgb kStops[] = {
      {247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
  const double t = std::clamp(share, 0.0, 1.0) * 4;
  const int i = std::min(static_cast<int>(t), 3);
  const double f = t - i;
  auto mix = [&](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(a + (b - a) * f));
  };
  return {mix(kStops[i].r, kStops[i + 1].r), mix(kStops[i].g, kStops[i + 1].g),
          mix(kStops[i].b, kStops[i + 1].b)};
}

// Dark text on light cells, white on dark ones.
Rgb Contrast(Rgb cell) {
  const double luma = 0.299 * cell.r + 0.587 * cell.g + 0.114 * cell.b;
  return luma < 140 ? Rgb{255, 255, 255} : kText;
}

struct ConfusionLayout {
  int k, cell, names_width, left, top, bar_x, bar_height;
  bool counts, names;
  int matrix() const { return k * cell; }
};

std::vector<std::string> ClassNames(const Canvas& c, const ConfusionPlotOptions& o, int k) {
  std::vector<std::string> names;
  for (int i = 0; i < k; ++i) {
    const bool named = size_t(i) < o.classes.size() && !o.classes[i].empty();
    names.push_back(
        c.Fit(named ? o.classes[i] : std::to_string(i), kMaxNameChars * c.TextWidth("0")));
  }
  return names;
}

ConfusionLayout LayOutConfusion(const Canvas& c, const std::vector<std::string>& names,
                                int64_t max_count) {
  ConfusionLayout l{};
  l.k = static_cast<int>(names.size());
  l.counts = l.k <= kMaxClassesWithCounts;
  l.names = l.k <= kMaxClassesWithNames;
  const int lh = c.line_height();
  if (l.counts) {
    l.cell = std::max(lh * 2, c.TextWidth(std::to_string(max_count)) + 10);
  } else if (l.names) {
    l.cell = lh + 2;
  } else {
    l.cell = std::max(2, kNamelessMatrixPixels / l.k);
  }
  for (const auto& n : names) l.names_width = std::max(l.names_width, l.names ? c.TextWidth(n) : 0);
  l.left = kMargin + lh + 8 + l.names_width + 6;
  l.top = kMargin + lh + 10 + lh + 6 + l.names_width + 6;
  l.bar_x = l.left + l.matrix() + 20;
  l.bar_height = std::max(l.matrix(), kMinBarHeight);
  return l;
}

const char* kBarTitle = "% of true label";

int ConfusionWidth(const Canvas& c, const ConfusionLayout& l) {
  return l.bar_x + kBarWidth + 6 + c.TextWidth("100%") + 8 + c.line_height() + kMargin;
}

void DrawCells(Canvas& c, const ConfusionLayout& l,
               const std::vector<std::vector<int64_t>>& matrix) {
  const bool gaps = l.cell >= 8;  // a white line between cells, where they are big enough
  for (int i = 0; i < l.k; ++i) {
    int64_t total = 0;
    for (int64_t v : matrix[i]) total += std::max<int64_t>(v, 0);
    for (int j = 0; j < l.k; ++j) {
      const int64_t count = std::max<int64_t>(matrix[i][j], 0);
      const Rgb color = Shade(total ? double(count) / double(total) : 0);
      const int x = l.left + j * l.cell, y = l.top + i * l.cell;
      c.FillRect(x, y, x + l.cell - gaps, y + l.cell - gaps, color);
      if (!l.counts) continue;
      const std::string text = std::to_string(count);
      c.Text(x + (l.cell - c.TextWidth(text)) / 2, y + (l.cell - c.line_height()) / 2, text,
             Contrast(color));
    }
  }
}

void DrawClassNames(Canvas& c, const ConfusionLayout& l, const std::vector<std::string>& names) {
  const int lh = c.line_height();
  if (l.names) {
    for (int i = 0; i < l.k; ++i) {
      const int mid = i * l.cell + l.cell / 2;
      c.Text(l.left - 6 - c.TextWidth(names[i]), l.top + mid - lh / 2, names[i], kText);
      c.TextUp(l.left + mid - lh / 2, l.top - 6, names[i], kText);
    }
  }
  c.Text(l.left + (l.matrix() - c.TextWidth("predicted")) / 2, kMargin + lh + 10, "predicted",
         kText);
  c.TextUp(kMargin, l.top + (l.matrix() + c.TextWidth("true label")) / 2, "true label", kText);
}

void DrawScaleBar(Canvas& c, const ConfusionLayout& l) {
  const int h = l.bar_height;
  for (int y = 0; y < h; ++y) {
    c.FillRect(l.bar_x, l.top + y, l.bar_x + kBarWidth, l.top + y + 1,
               Shade(1 - double(y) / (h - 1)));
  }
  const int lh = c.line_height();
  for (double v : NiceTicks(0, 100, std::clamp(h / (lh * 2), 2, 6))) {
    const int y = l.top + static_cast<int>(std::lround((1 - v / 100) * (h - 1)));
    c.Text(l.bar_x + kBarWidth + 6, std::clamp(y - lh / 2, l.top - lh / 2, l.top + h - lh / 2),
           Format(v, 0) + "%", kText);
  }
  const int x = l.bar_x + kBarWidth + 6 + c.TextWidth("100%") + 8;
  c.TextUp(x, l.top + (h + c.TextWidth(kBarTitle)) / 2, kBarTitle, kText);
}

// ---- run plots -------------------------------------------------------------------------

// " - run NAME (interrupted)": which run, and whether it ran to the end.
std::string RunSuffix(const RunManifest& run) {
  std::string s = run.name.empty() ? "" : " - run " + run.name;
  if (run.status != RunStatus::kCompleted) s += std::string(" (") + RunStatusName(run.status) + ")";
  return s;
}

const EpochMetrics* BestEpoch(const RunManifest& run) {
  for (const auto& m : run.epochs) {
    if (m.epoch == run.best_epoch) return &m;
  }
  return nullptr;
}

Result<std::string> LossPlot(const RunManifest& run) {
  PlotSeries train{"train loss", {}, 31, 119, 180}, val{"val loss", {}, 255, 127, 14};
  for (const auto& m : run.epochs) {
    train.values.push_back(m.train_loss);
    val.values.push_back(m.val_loss);
  }
  LinePlotOptions o;
  o.title = "loss per epoch" + RunSuffix(run);
  o.y_title = "cross-entropy loss";
  o.y_min = 0;  // from zero, so that the curves' scale reads honestly
  if (const EpochMetrics* best = BestEpoch(run)) {
    o.marker_epoch = best->epoch;
    o.marker_label = "best: epoch " + std::to_string(best->epoch);
    if (std::isfinite(best->val_loss))
      o.marker_label += ", val loss " + Significant(best->val_loss);
  }
  return PlotLines({train, val}, o);
}

Result<std::string> AccuracyPlot(const RunManifest& run) {
  PlotSeries accuracy{"val accuracy", {}, 44, 160, 44};
  for (const auto& m : run.epochs) accuracy.values.push_back(m.val_accuracy);
  LinePlotOptions o;
  o.title = "validation accuracy per epoch" + RunSuffix(run);
  o.y_title = "accuracy";
  o.y_floor = 0;
  o.y_ceiling = 1;
  if (const EpochMetrics* best = BestEpoch(run)) {
    o.marker_epoch = best->epoch;
    o.marker_label = "best: epoch " + std::to_string(best->epoch) + ", " +
                     Format(best->val_accuracy * 100, 1) + "%";
  }
  std::vector<PlotSeries> series = {accuracy};
  // --retain sets: what the model keeps of other tasks, one curve each.
  static constexpr uint8_t kRetainColours[][3] = {
      {148, 103, 189}, {214, 39, 40}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
  for (size_t i = 0; i < run.retain.size(); ++i) {
    const uint8_t* rgb = kRetainColours[i % std::size(kRetainColours)];
    PlotSeries retain{"retain " + run.retain[i].name, {}, rgb[0], rgb[1], rgb[2]};
    for (const auto& m : run.epochs) {
      auto it = m.retain.find(run.retain[i].name);
      retain.values.push_back(it == m.retain.end() ? NAN : it->second.accuracy);
    }
    series.push_back(std::move(retain));
  }
  return PlotLines(series, o);
}

bool IsSquare(const std::vector<std::vector<int64_t>>& matrix) {
  return !matrix.empty() && std::all_of(matrix.begin(), matrix.end(), [&](const auto& row) {
    return row.size() == matrix.size();
  });
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int max_count) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(hi - lo) || lo > hi ||
      max_count < 1) {
    return {};
  }
  if (lo == hi) return {lo};
  return Multiples(lo, hi, NiceStep(lo, hi, std::min(max_count, 1000)));
}

Result<std::string> PlotLines(const std::vector<PlotSeries>& series,
                              const LinePlotOptions& options) {
  VREPO_RETURN_IF_ERROR(CheckLinePlotOptions(options));
  VREPO_ASSIGN_OR_RETURN(const BitmapFont* font, PlotFont());
  Canvas c(options.width, options.height, *font);
  VREPO_RETURN_IF_ERROR(DrawLinePlot(c, series, options));
  return c.EncodePng();
}

Result<std::string> PlotLinePanels(const std::vector<LinePanel>& panels, int columns) {
  if (panels.empty()) return Status::InvalidArgument("plot: no panels");
  if (columns < 1) return Status::InvalidArgument("plot: columns must be at least 1");
  int cell_w = 0, cell_h = 0;
  for (const LinePanel& p : panels) {
    VREPO_RETURN_IF_ERROR(CheckLinePlotOptions(p.options));
    cell_w = std::max(cell_w, p.options.width);
    cell_h = std::max(cell_h, p.options.height);
  }
  const int cols = std::min<int>(columns, static_cast<int>(panels.size()));
  const int rows = static_cast<int>((panels.size() + cols - 1) / cols);
  if (static_cast<int64_t>(cell_w) * cols > 8192 || static_cast<int64_t>(cell_h) * rows > 8192) {
    return Status::InvalidArgument("plot: " + std::to_string(panels.size()) +
                                   " panels do not fit 8192x8192 pixels");
  }
  VREPO_ASSIGN_OR_RETURN(const BitmapFont* font, PlotFont());
  Canvas out(cell_w * cols, cell_h * rows, *font);
  for (size_t i = 0; i < panels.size(); ++i) {
    Canvas panel(panels[i].options.width, panels[i].options.height, *font);
    VREPO_RETURN_IF_ERROR(DrawLinePlot(panel, panels[i].series, panels[i].options));
    out.Paste(panel, static_cast<int>(i % cols) * cell_w, static_cast<int>(i / cols) * cell_h);
  }
  return out.EncodePng();
}

void SetPaletteColour(size_t i, PlotSeries* series) {
  // matplotlib's tab10: ten hues that stay apart, also for most colour-blind readers.
  static constexpr uint8_t kTab10[][3] = {
      {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  const uint8_t* rgb = kTab10[i % std::size(kTab10)];
  series->r = rgb[0];
  series->g = rgb[1];
  series->b = rgb[2];
}

Result<std::string> PlotConfusion(const std::vector<std::vector<int64_t>>& matrix,
                                  const ConfusionPlotOptions& options) {
  if (!IsSquare(matrix)) {
    return Status::InvalidArgument("plot: the confusion matrix is empty or not square");
  }
  VREPO_ASSIGN_OR_RETURN(const BitmapFont* font, PlotFont());
  const Canvas measure(1, 1, *font);
  const auto names = ClassNames(measure, options, static_cast<int>(matrix.size()));
  int64_t max_count = 0;
  for (const auto& row : matrix) {
    for (int64_t v : row) max_count = std::max(max_count, v);
  }
  const ConfusionLayout l = LayOutConfusion(measure, names, max_count);
  const int title_width = std::min(measure.TextWidth(options.title), 640) + 2 * kMargin;
  Canvas c(std::max(ConfusionWidth(measure, l), title_width),
           l.top + std::max(l.matrix(), l.bar_height) + kMargin, *font);
  DrawTitle(c, options.title);
  DrawCells(c, l, matrix);
  DrawClassNames(c, l, names);
  DrawScaleBar(c, l);
  return c.EncodePng();
}

Result<std::vector<std::pair<std::string, std::string>>> RunPlots(const RunManifest& run) {
  std::vector<std::pair<std::string, std::string>> files;
  if (run.epochs.empty()) return files;
  VREPO_ASSIGN_OR_RETURN(std::string loss, LossPlot(run));
  files.emplace_back("plots/loss.png", std::move(loss));
  VREPO_ASSIGN_OR_RETURN(std::string accuracy, AccuracyPlot(run));
  files.emplace_back("plots/accuracy.png", std::move(accuracy));
  if (IsSquare(run.confusion)) {
    ConfusionPlotOptions o;
    o.title = "confusion matrix, validation, best epoch " + std::to_string(run.best_epoch) +
              RunSuffix(run);
    o.classes = run.classes;
    VREPO_ASSIGN_OR_RETURN(std::string confusion, PlotConfusion(run.confusion, o));
    files.emplace_back("plots/confusion.png", std::move(confusion));
  }
  return files;
}

}  // namespace vrepo::train
