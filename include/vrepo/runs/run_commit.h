// RunCommitWriter: writes a run record (a training run's or a command run's) as a commit under
// refs/runs/NAME, in crash-safe order: every object durable, then the tree and the commit,
// then the ref. Nothing is visible before Finish. One writer per Repository at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/repo/repository.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/status.h"

namespace vrepo::runs {

inline constexpr std::string_view kRunsRefPrefix = "refs/runs/";

// OK when `name` can name a new run: a plain name (letters, digits, '-', '_', '.', at most
// 100) with no refs/runs/NAME yet. InvalidArgument "run name 'x' already exists" otherwise.
Status CheckNewRunName(History& history, const std::string& name);

class RunCommitWriter {
 public:
  // Starts a record named `name` ("" names it by its commit's 12-digit short id). Checks
  // the name first and fails on a read-only repository.
  static Result<RunCommitWriter> Start(Repository& repo, const std::string& name);
  RunCommitWriter(RunCommitWriter&&) noexcept;
  ~RunCommitWriter();

  // Adds `bytes` at `path` in the record's tree. Returns its entry.
  Result<FileEntry> AddBytes(const std::string& path, std::string_view bytes);
  // Adds the file at `disk_path` (stored by content, chunked when large, never whole in
  // memory) at `path` in the record's tree. Returns its entry.
  Result<FileEntry> AddFile(const std::string& path, const std::string& disk_path);

  // Makes the objects durable, writes the tree and a commit of `parents` (the dataset commit
  // first) with `message`, then the ref. Returns the commit id. InvalidArgument "run name 'x'
  // already exists" when the ref appeared meanwhile (only unreferenced objects are left).
  Result<std::string> Finish(const std::vector<std::string>& parents, const std::string& message);

 private:
  RunCommitWriter(Repository* repo, std::string name, std::unique_ptr<PackWriter> writer);
  Repository* repo_;
  std::string name_;
  std::unique_ptr<PackWriter> writer_;
  std::vector<FileEntry> entries_;
};

}  // namespace vrepo::runs
