// `vrepo merge`: a three-way merge of a branch into HEAD, git-like over files by path, with
// label tables (CSV/JSONL) merged by key (the sample path), and an image that both sides
// moved to different class folders of a folder-per-class table a label conflict
// (docs/formats.md). Writes through the Repository's single writer; one thread at a time. The
// merge-in-progress files are in worktree/merge_state.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/dataset/label_table.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/reporter.h"
#include "vrepo/worktree/merge_state.h"

namespace vrepo {

struct MergeOptions {
  TableOptions table;  // columns (CSV) or keys (JSONL) that hold the sample path and label
  Reporter* reporter = nullptr;  // progress of the checkout
};

enum class MergeOutcome {
  kUpToDate,     // the branch is already part of HEAD: nothing changed
  kFastForward,  // HEAD was an ancestor of the branch: HEAD moved to it
  kMerged,       // a merge commit with parents (HEAD, branch) was made
  kConflicts,    // stopped with nothing committed; a merge is in progress
};

struct MergeResult {
  MergeOutcome outcome = MergeOutcome::kUpToDate;
  std::string head;    // HEAD before the merge
  std::string theirs;  // the merged commit
  std::optional<std::string> base;
  std::string commit;                      // kFastForward / kMerged: where HEAD is now
  std::vector<std::string> tables_merged;  // label tables merged by key, sorted
  std::vector<MergeConflict> conflicts;    // kConflicts: in path order
  uint64_t files_changed = 0;              // files the working tree got (written or removed)
};

// Merges `rev` into HEAD. Refuses (Conflict) when the working tree has staged or unstaged
// changes, when an untracked file is in the way, or when a merge is already in progress.
// On conflicts nothing is committed: the working tree gets every cleanly merged file, a
// conflicted label table gets its clean keys merged and its conflicted keys left at ours'
// record, another conflicted file stays as ours has it (or theirs, when ours deleted it);
// the state is written for commit / AbortMerge.
Result<MergeResult> Merge(Repository& repo, const std::string& rev, const MergeOptions& options);

// Ends the merge in progress: HEAD's files back in the working tree and staging index (with
// force, so conflicted files are overwritten) and the merge files removed. NotFound when
// no merge is in progress.
Status AbortMerge(Repository& repo);

// The three-way merge of one label table, given its text in the merge base (nullopt when
// the base lacks it), ours and theirs. `source` names the table in messages.
struct TableMergeResult {
  std::string text;                      // the merged table; conflicted keys keep ours' record
  std::vector<MergeConflict> conflicts;  // kind "label" (one per key), or one "header"
};
// InvalidArgument when a version does not parse as a table or has one path twice (it
// cannot then be merged by key).
Result<TableMergeResult> MergeLabelTables(const std::optional<std::string_view>& base,
                                          std::string_view ours, std::string_view theirs,
                                          const std::string& source, const TableOptions& options);

}  // namespace vrepo
