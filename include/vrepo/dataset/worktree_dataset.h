// Dataset versions that are not commits: a label table joined with the staging index's files
// or with the working tree's, for `diff --labels` with fewer than two revisions (as plain
// diff compares). One thread per Repository.
#pragma once

#include <string>

#include "vrepo/dataset/dataset.h"
#include "vrepo/repo/repository.h"

namespace vrepo {

enum class UncommittedFiles {
  kIndex,     // the staged files; a table file is read from the store
  kWorktree,  // the tracked files as they are on disk; a table file is read from disk
};

// The table `table_path` (a .csv/.jsonl file or a folder-per-class folder) joined with
// `files`; untracked files are not part of it, as in plain diff. commit and tree are empty.
// NotFound when the table is neither a file nor a folder there.
Result<DatasetVersion> LoadUncommittedDataset(Repository& repo, UncommittedFiles files,
                                              const std::string& table_path,
                                              const TableOptions& options);

}  // namespace vrepo
