// A repository holding a small real Fashion-MNIST export (PNG files plus labels.csv), for the
// dataset tests. Helpers fail the test on error.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "must.h"
#include "testing.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/file.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::testing {

// The export tool built beside the vrepo binary.
inline std::string ExportTool() {
  std::string bin = VREPO_BINARY;
  return bin.substr(0, bin.rfind('/')) + "/examples/vrepo-fmnist-export";
}

// Writes `limit` Fashion-MNIST images of `split` ("train" or "test") from `offset` as
// images/SPLIT/NNNNN.png plus labels.csv into `dir`.
inline void ExportFashionMnist(const std::string& dir, int limit, int offset = 0,
                               const std::string& split = "train") {
  std::string cmd = ExportTool() + " --out '" + dir + "' --split " + split + " --limit " +
                    std::to_string(limit) + " --offset " + std::to_string(offset) + " >/dev/null";
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "export failed: " << cmd);
}

struct DatasetRepo {
  TempDir dir;
  std::unique_ptr<Repository> repo;

  explicit DatasetRepo(int images) {
    repo = Must(Repository::Init(dir.path()));
    ExportFashionMnist(dir.path(), images);
  }
  std::string Path(const std::string& rel) const { return dir / rel; }
  void Write(const std::string& rel, const std::string& data) {
    WriteFile(Path(rel), data);
    AgeFile(Path(rel), 10);
  }
  std::string Read(const std::string& rel) const { return ReadFileOrDie(Path(rel)); }
  std::string CommitAll(const std::string& message) {
    Must(Add(*repo, {""}).status());
    return Must(Commit(*repo, message)).commit;
  }
};

}  // namespace vrepo::testing
