// A repository holding Fashion-MNIST training images (labels.csv) and, optionally, test images
// (test.csv), committed, for the loader and trainer tests. Helpers fail the test on error.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "dataset/dataset_fixture.h"
#include "vrepo/dataset/dataset.h"

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

}  // namespace vrepo::testing
