// The state of a merge in progress: small files under .vrepo that `vrepo merge` writes
// before it touches the working tree, that commit and status read, and that commit and
// `merge --abort` remove. Free functions over a Repository; one thread at a time.
//
// Files (docs/formats.md):
//   MERGE_HEAD       "<commit being merged in, 40 hex>\n" (present = a merge is in progress)
//   ORIG_HEAD        "<HEAD before the merge, 40 hex>\n"
//   MERGE_CONFLICTS  "vrepo-merge-conflicts 1\n", then one line per conflict:
//                    KIND \t FILE \t KEY \t OURS \t THEIRS, each field escaped (\\ \t \n \r)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"

namespace vrepo {

struct MergeConflict {
  // "label" (one sample of a label table), "content" (a file changed on both sides),
  // "modify/delete", "delete/modify", "add/add", "header" (CSV headers differ).
  std::string kind;
  std::string file;    // the conflicted file (a folder-per-class table's folder), from the root
  std::string key;     // label conflicts: the sample path; otherwise ""
  std::string ours;    // label conflicts: ours' label ("" when ours deleted the row)
  std::string theirs;  // label conflicts: theirs' label ("" when theirs deleted the row)
};

// One line for a user: "CONFLICT (label): images/x.png: ours 'coat' vs theirs 'shirt' in
// labels.csv", "CONFLICT (content): a.bin changed on both sides".
std::string DescribeConflict(const MergeConflict& conflict);

struct MergeState {
  std::string merge_head;  // the commit being merged in
  std::string orig_head;   // HEAD when the merge started
  std::vector<MergeConflict> conflicts;
  // The distinct conflicted files, sorted.
  std::vector<std::string> ConflictedFiles() const;
};

// The merge in progress, or nullopt when there is none. A state whose ORIG_HEAD is no longer
// HEAD (HEAD moved since, e.g. a crash after the merge commit) is stale and reads as none.
Result<std::optional<MergeState>> ReadMergeState(Repository& repo);
// Writes the state durably; MERGE_HEAD last, so a crash never leaves it without the others.
Status WriteMergeState(const Repository& repo, const MergeState& state);
// Removes the state files (MERGE_HEAD first); absent files are fine.
Status RemoveMergeState(const Repository& repo);

// Stages `files` as the not yet resolved versions of conflicted paths: their staging entries
// carry no stat (mtime 0), which only a later `vrepo add` (or rm, restore) of the path
// replaces. The working tree is not touched.
Status StageUnresolved(Repository& repo, const std::vector<FileEntry>& files);
// The state's conflicted files whose staging entries are still the unresolved ones (for a
// folder, some entry under it).
Result<std::vector<std::string>> UnresolvedFiles(Repository& repo, const MergeState& state);

}  // namespace vrepo
