// PNG charts for run records, readable without the docs: line charts over epochs (loss,
// accuracy) with a title, axis titles, round ticks, a legend and a best-epoch marker, and a
// confusion matrix with class names, counts and a colour scale. Text is drawn in a bitmap
// console font (Terminus, from Debian's console-setup-linux) embedded at build time; no torch.
// Plain functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vrepo/train/run_manifest.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

// Round tick values for an axis over [lo, hi]: the multiples of 1, 2 or 5 x 10^k inside it,
// for the smallest such step that gives at most `max_count` of them (one value when lo == hi).
// Empty when lo > hi, either is not finite or max_count < 1.
std::vector<double> NiceTicks(double lo, double hi, int max_count);

struct PlotSeries {
  std::string name;            // the legend's text
  std::vector<double> values;  // one per epoch (x = 1..N); NaN values are skipped
  uint8_t r = 0, g = 0, b = 0;
};

struct LinePlotOptions {
  int width = 640;
  int height = 420;
  std::string title;
  std::string x_title = "epoch";
  std::string y_title;
  // The y range. A NaN end is fitted to the data and rounded out to a tick, staying within
  // [y_floor, y_ceiling] (accuracy: 0..1); y_min = 0, y_max = 1 fixes it to 0..1.
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
  double y_floor = -std::numeric_limits<double>::infinity();
  double y_ceiling = std::numeric_limits<double>::infinity();
  // A dashed line at this epoch (1-based; 0 for none) with rings on the series' points there,
  // explained in the legend by `marker_label`.
  int marker_epoch = 0;
  std::string marker_label;
};

// An RGB PNG of the series as lines over x = epochs 1..N. A series with a single value is
// drawn as a point with the value written beside it.
Result<std::string> PlotLines(const std::vector<PlotSeries>& series,
                              const LinePlotOptions& options = {});

// One panel of PlotLinePanels: its series and its options (size, title, axes).
struct LinePanel {
  std::vector<PlotSeries> series;
  LinePlotOptions options;
};

// Line plots laid out in one RGB PNG, `columns` to a row (left to right, then down), each
// in a cell as large as the largest panel. InvalidArgument when there is no panel, a panel's
// size is out of PlotLines' range, or the whole is over 8192 pixels either way.
Result<std::string> PlotLinePanels(const std::vector<LinePanel>& panels, int columns);

// Gives `series` the i-th of ten colours that stay apart (matplotlib's tab10, repeating),
// for curves of several runs in one plot.
void SetPaletteColour(size_t i, PlotSeries* series);

struct ConfusionPlotOptions {
  std::string title;
  std::vector<std::string> classes;  // names of rows and columns, in order; missing: indices
};

// An RGB PNG of a square count matrix (rows: true label, columns: predicted) with the class
// names on both axes, each cell shaded by its share of the row (scale bar beside it) and,
// up to 30 classes, its count written in it. Up to 80 classes keep their names. InvalidArgument
// when the matrix is empty or not square.
Result<std::string> PlotConfusion(const std::vector<std::vector<int64_t>>& matrix,
                                  const ConfusionPlotOptions& options = {});

// A run record's plots as (tree path, PNG bytes): plots/loss.png (train loss blue, validation
// loss orange, from zero), plots/accuracy.png (validation accuracy, axis fitted to the data,
// and one curve per --retain set) and plots/confusion.png (best epoch, when run.confusion is
// square), titled with the run's name and its status unless completed; both line plots mark
// run.best_epoch. None when no epoch completed.
Result<std::vector<std::pair<std::string, std::string>>> RunPlots(const RunManifest& run);

}  // namespace vrepo::train
