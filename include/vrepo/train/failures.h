// Failures: the samples a model got wrong, as a label table to review, fix and commit
// (`vrepo eval --failures`). Plain functions over values; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "vrepo/dataset/label_table.h"
#include "vrepo/train/trainer.h"

namespace vrepo::train {

// The predictions whose top class is not the table's label, in table order.
std::vector<Prediction> Failures(const EvalResult& result);

// CSV text of `failures`: a header of the table's path and label columns, "predicted" and
// "probability" (of the predicted class), then one record per failure, quoted as label tables
// are, so that the file reads back as a label table with the same columns.
std::string FailuresCsv(const std::vector<Prediction>& failures, const TableOptions& columns);

}  // namespace vrepo::train
