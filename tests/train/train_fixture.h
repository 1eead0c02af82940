// A repository holding Fashion-MNIST training images (labels.csv) and, optionally, test images
// (test.csv), committed, for the loader and trainer tests. Helpers fail the test on error.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <functional>
#include <string>

#include "dataset/dataset_fixture.h"
#include "vrepo/dataset/dataset.h"
#include "vrepo/train/config.h"
#include "vrepo/util/reporter.h"

namespace vrepo::testing {

struct TrainRepo : DatasetRepo {
  std::string commit;

  // `train` images as images/train/*.png + labels.csv; `test` images of the test split as
  // images/test/*.png + test.csv.
  explicit TrainRepo(int train, int test = 0) : DatasetRepo(train) {
    if (test > 0) {
      TempDir scratch;
      ExportFashionMnist(scratch.path(), test, 0, "test");
      // rename(2), not std::filesystem: see ListFolder in testing.h.
      REQUIRE(std::rename((scratch / "images/test").c_str(), Path("images/test").c_str()) == 0);
      REQUIRE(std::rename((scratch / "labels.csv").c_str(), Path("test.csv").c_str()) == 0);
    }
    commit = CommitAll("fashion-mnist");
  }

  DatasetVersion Version(const std::string& table = "labels.csv") {
    return Must(LoadDataset(repo->history(), repo->store(), commit, table, TableOptions{}));
  }
};

// A Reporter that hands every Info and Transient line to `on_line` (the trainer's epoch and
// batch lines).
struct LineReporter : Reporter {
  explicit LineReporter(std::function<void(const std::string&)> fn) : on_line(std::move(fn)) {}
  void Info(const std::string& line) override { on_line(line); }
  void Transient(const std::string& line) override { on_line(line); }
  std::function<void(const std::string&)> on_line;
};

// One quick epoch of small-cnn on labels.csv on `device` ("cpu" or "cuda"), seed 1.
inline train::TrainConfig SmallTrainConfig(const std::string& device) {
  train::TrainConfig c;
  c.labels = "labels.csv";
  c.epochs = 1;
  c.batch_size = 32;
  c.seed = 1;
  c.device = device;
  return c;
}

}  // namespace vrepo::testing
