#include "vrepo/train/failures.h"

#include <cstdio>

namespace vrepo::train {

std::vector<Prediction> Failures(const EvalResult& result) {
  std::vector<Prediction> out;
  for (const Prediction& p : result.predictions) {
    if (p.predicted != p.label) out.push_back(p);
  }
  return out;
}

std::string FailuresCsv(const std::vector<Prediction>& failures, const TableOptions& columns) {
  std::string out =
      CsvLine({columns.path_column, columns.label_column, "predicted", "probability"}) + "\n";
  for (const Prediction& p : failures) {
    char probability[32];
    std::snprintf(probability, sizeof(probability), "%.6f", p.confidence);
    out += CsvLine({p.path, p.label, p.predicted, probability}) + "\n";
  }
  return out;
}

}  // namespace vrepo::train
