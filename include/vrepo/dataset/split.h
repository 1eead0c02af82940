// Splitting a label table into train/val/test tables written beside it (`vrepo dataset
// split`). Reads the repository without the writer lock; writes only the split tables, each
// atomically. One thread per Repository.
#pragma once

#include <string>
#include <vector>

#include "vrepo/dataset/dataset.h"
#include "vrepo/repo/repository.h"

namespace vrepo {

struct SplitRequest {
  std::string table;  // path of the label table in the repository
  // "" = the table in the working tree when it is a file there (else HEAD's); otherwise the
  // table at this revision. Folder tables exist only in commits.
  std::string rev;
  TableOptions columns;
  SplitOptions options;
  std::string out_dir;  // absolute; "" = the table's own folder in the working tree
};

struct SplitPart {
  std::string name;  // "train", "val", ...
  double ratio = 0;
  std::string path;  // the file written
  LabelTable table;  // its rows (CSV for a folder table)
};

// Writes one table per split, named after the table ("labels.csv" + "val" ->
// "labels.val.csv"; a folder table "images" -> "images.val.csv"). With options.stratify the
// rows of split tables already there keep their split (AssignSplits' `previous`).
Result<std::vector<SplitPart>> SplitTable(Repository& repo, const SplitRequest& request);

}  // namespace vrepo
