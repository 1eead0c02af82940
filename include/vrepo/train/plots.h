// Small PNG charts for run records: line charts (loss and accuracy per epoch) and a confusion
// matrix heat map. A tiny rasterizer with a 5x7 digit font for axis numbers; no torch.
// Plain functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vrepo/train/run_manifest.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct PlotSeries {
  std::vector<double> values;  // one per x step (epoch); NaN values are skipped
  uint8_t r = 0, g = 0, b = 0;
};

struct LinePlotOptions {
  int width = 480;
  int height = 320;
  // The y range; when y_min == y_max it is taken from the data.
  double y_min = 0;
  double y_max = 0;
};

// An RGB PNG of the series as polylines over x = 1..N with axes, ticks and numbers.
Result<std::string> PlotLines(const std::vector<PlotSeries>& series,
                              const LinePlotOptions& options = {});

// An RGB PNG of a square count matrix (rows: true class, columns: predicted), each row
// shaded by its share of the row's total, with class indices along the edges.
Result<std::string> PlotConfusion(const std::vector<std::vector<int64_t>>& matrix,
                                  int cell_pixels = 32);

// A run record's plots as (tree path, PNG bytes): plots/loss.png (train loss blue, validation
// loss orange, from zero), plots/accuracy.png (validation accuracy, 0..1) and
// plots/confusion.png (best epoch). None when no epoch completed.
Result<std::vector<std::pair<std::string, std::string>>> RunPlots(const RunManifest& run);

}  // namespace vrepo::train
