// The label table a command reads at a commit (dataset check, stats, split; train and eval in
// vrepo-train), as the user sees it: a warning when the working tree's copy has changes the
// commit lacks, and errors that say how to fix them. Single-threaded, like the commands.
#pragma once

#include <string>

#include "cli.h"

namespace vrepo::cli {

// The path, relative to the repository root, of `user_table` (as typed, relative to g.cwd)
// that a command is about to read at `rev`. Warns through `reporter` when the working tree
// holds changes to it that are not committed (modified, staged or untracked files), saying
// the committed version is used. Fails with "TABLE: not committed: run `vrepo add TABLE` and
// commit" when the table is in neither `rev` nor HEAD but is in the working tree. An unknown
// REV or a table found nowhere is left to the load that follows to report.
Result<std::string> CommittedTablePath(Repository& repo, const Globals& g, const std::string& rev,
                                       const std::string& user_table, Reporter* reporter);
// The same for several tables (train's and validation's), walking the working tree once.
Result<std::vector<std::string>> CommittedTablePaths(Repository& repo, const Globals& g,
                                                     const std::string& rev,
                                                     const std::vector<std::string>& user_tables,
                                                     Reporter* reporter);

// `status` with a hint when it says a table lacks the path or label column (CSV) or key
// (JSONL): the option that names another one.
Status WithTableHint(const Status& status, const TableOptions& columns);

}  // namespace vrepo::cli
