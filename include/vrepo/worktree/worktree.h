// The working-tree operations: add, rm, mv, status, commit, checkout, restore, diff,
// and fsck and gc with the staging index, over a Repository. Paths in and out are relative
// to the repository root. Each function runs on the calling thread plus an internal pool
// of IO workers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/repo/maintenance.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/reporter.h"

namespace vrepo {

// ---- staging (add, rm, mv) ----

struct AddOptions {
  Reporter* reporter = nullptr;  // progress of the hashing and storing; skipped paths
};
struct AddResult {
  uint64_t files_added = 0;    // new or changed files staged
  uint64_t files_removed = 0;  // tracked files under the paths that no longer exist
  uint64_t bytes_read = 0;
};
// Stages every file under `paths` (folders recursively, honouring .vrepoignore), and stages
// the removal of tracked files under them that are gone. NotFound when a path neither
// exists nor is tracked.
Result<AddResult> Add(Repository& repo, const std::vector<std::string>& paths,
                      const AddOptions& options = {});

// Unstages the files under `paths` and, unless `cached`, deletes them from the working tree.
// Refuses (Conflict) when a file has changes not committed, unless `force`.
Status Remove(Repository& repo, const std::vector<std::string>& paths, bool cached, bool force);

// Renames a tracked file or folder in the working tree and the staging index.
Status Move(Repository& repo, const std::string& from, const std::string& to);

// ---- status ----

enum class ChangeKind : char { kAdded = 'A', kModified = 'M', kDeleted = 'D', kUntracked = '?' };

struct StatusEntry {
  std::string path;
  std::optional<ChangeKind> staged;    // index vs HEAD
  std::optional<ChangeKind> unstaged;  // working tree vs index ('?' for untracked)
};

struct StatusReport {
  std::optional<std::string> branch;  // nullopt when HEAD is detached
  std::optional<std::string> head;    // nullopt on an unborn branch
  std::vector<StatusEntry> entries;   // sorted by path
  uint64_t files_hashed = 0;          // files whose contents were read (0 on an unchanged tree)
  // While a merge is in progress (merge_state.h): the commit being merged in, and its
  // conflicted files not yet re-added (sorted).
  std::optional<std::string> merge_head;
  std::vector<std::string> unmerged;
};

// A walk of a working tree started before its repository is opened, so that the walk (most
// of a status) overlaps the opening. Hand it to ComputeStatus. Paths the walk skips are
// reported to `reporter` (from the walk's thread).
struct PendingWalk;
std::shared_ptr<PendingWalk> StartStatusWalk(const std::string& root, Reporter* reporter = nullptr);

// How status lists untracked files (git's --untracked-files).
enum class UntrackedFiles {
  kAll,     // every untracked file
  kNormal,  // a folder holding no tracked file is one entry, "folder/"
  kNo,      // none
};

// `walk`, when given, must have been started for repo.root().
Result<StatusReport> ComputeStatus(Repository& repo, std::shared_ptr<PendingWalk> walk = nullptr,
                                   UntrackedFiles untracked = UntrackedFiles::kAll);

// ---- commit ----

struct CommitResult {
  std::string commit;
  std::optional<std::string> branch;
  uint64_t files = 0;
  bool root_commit = false;
};
// Commits the staging index on top of HEAD and moves HEAD's branch. InvalidArgument
// "nothing to commit" when the index equals HEAD's tree (unless `allow_empty`).
// While a merge is in progress (merge_state.h) the commit gets the merged commit as its
// second parent and ends the merge; Conflict while a conflicted file is not re-added.
Result<CommitResult> Commit(Repository& repo, const std::string& message, bool allow_empty = false);

// ---- checkout, switch, restore ----

struct CheckoutOptions {
  bool force = false;            // discard uncommitted changes
  Reporter* reporter = nullptr;  // progress of the files written
  // A lazy clone's first checkout: files whose objects the store lacks are not written but
  // staged as absent (StagingEntry::absent), instead of fetched through the store's source.
  bool leave_absent = false;
};
// Makes the working tree and staging index equal to `rev`'s tree and detaches HEAD there
// (or points HEAD at the branch when `rev` is a branch name and `attach_branch`). Refuses
// with Conflict, naming a path, when uncommitted changes or untracked files would be
// overwritten or lost, unless `force`.
Status Checkout(Repository& repo, const std::string& rev, const CheckoutOptions& options,
                bool attach_branch);
// Makes the working tree and staging index equal to `files` (sorted by path) without moving
// HEAD; `tree` is the git tree they form ("" when unknown), a hint for status. Refuses like
// Checkout unless `force`.
Status CheckoutFiles(Repository& repo, const std::vector<FileEntry>& files, const std::string& tree,
                     const CheckoutOptions& options);
// switch BRANCH: checkout with HEAD attached to the branch. `create` makes it first, at
// `start` (a revision; "" = HEAD); a refused checkout leaves no new branch behind.
Status Switch(Repository& repo, const std::string& branch, bool create,
              const CheckoutOptions& options, const std::string& start = "");
// Restores files under `paths` in the working tree from the staging index, or from
// `source` (a revision) into both the working tree and the index when given.
Status Restore(Repository& repo, const std::vector<std::string>& paths,
               const std::optional<std::string>& source, Reporter* reporter = nullptr);
// Sets the staging entries under `paths` back to `source`'s files (HEAD when nullopt),
// dropping those the source lacks; the working tree keeps its edits (restore --staged).
Status Unstage(Repository& repo, const std::vector<std::string>& paths,
               const std::optional<std::string>& source);

// ---- diff ----

struct DiffEntry {
  std::string path;
  ChangeKind kind = ChangeKind::kModified;  // kAdded, kDeleted or kModified
  uint64_t old_size = 0;
  uint64_t new_size = 0;
  std::optional<ContentId> old_id;
  std::optional<ContentId> new_id;
};
// Differences between two file lists (each sorted by path).
std::vector<DiffEntry> DiffFiles(const std::vector<FileEntry>& old_files,
                                 const std::vector<FileEntry>& new_files);
// What commit `commit_id` changed: its files against its first parent's; for a training run
// (a commit a refs/runs/ ref points at, whose tree holds only the run's own files) its own
// files, as added.
Result<std::vector<DiffEntry>> CommitChanges(Repository& repo, const std::string& commit_id);
// diff with no revisions: staging index vs working tree; one: REV vs working tree;
// two: REV vs REV (like git diff). With `paths` (root-relative files or folders), only
// the files under one of them.
Result<std::vector<DiffEntry>> Diff(Repository& repo, const std::vector<std::string>& revs,
                                    const std::vector<std::string>& paths = {});

// The staged files, sorted by path.
Result<std::vector<FileEntry>> StagedFiles(Repository& repo);
// The tracked files as the working tree has them now (those deleted there left out), sorted
// by path, hashing only what the stat cache cannot vouch for; nothing is stored.
Result<std::vector<FileEntry>> WorktreeFiles(Repository& repo);

// ---- maintenance ----

// fsck (repo/maintenance.h) with the staging index's files as extra roots.
Result<FsckReport> Fsck(Repository& repo);

struct RebuildIndexResult {
  IndexRebuildReport store;          // what the pack files gave
  size_t staged = 0;                 // staging entries restored from HEAD
  std::unique_ptr<Repository> repo;  // the repository, open for writing, on the new index
};
// Replaces a missing or damaged index (`vrepo fsck --rebuild-index`): object locations from
// the pack files, then the staging index from HEAD's tree with no stat cache, so the next
// status hashes each file once. Takes the writer lock like any writer; `start` as Discover.
Result<RebuildIndexResult> RebuildIndex(const std::string& start, bool wait_for_lock);

// Drops content objects that no ref (and not the staging index) reaches.
Result<GcResult> Gc(Repository& repo);

}  // namespace vrepo
