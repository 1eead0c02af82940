// The work tree's part of fsck and gc (repo/maintenance.h does the rest): the staging
// index's files are live too, and after an index rebuild the staging index is restored.
#include "vrepo/repo/maintenance.h"

#include "vrepo/worktree/staging_index.h"
#include "vrepo/worktree/worktree.h"
#include "worktree_internal.h"

namespace vrepo {

namespace {

// The staged files, which fsck and gc treat like files a commit names.
Result<ExtraRoots> StagedRoots(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  ExtraRoots roots;
  roots.holder = "the staging index";
  roots.files.reserve(index.entries.size());
  for (StagingEntry& e : index.entries) {
    FileEntry f;
    f.path = std::move(e.path);
    f.id = e.id;
    f.size = e.size;
    roots.files.push_back(std::move(f));
  }
  return roots;
}

}  // namespace

Result<FsckReport> Fsck(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(ExtraRoots staged, StagedRoots(repo));
  return Fsck(repo, staged);
}

Result<RebuildIndexResult> RebuildIndex(const std::string& start, bool wait_for_lock) {
  RebuildIndexResult result;
  OpenOptions options;
  options.wait_for_lock = wait_for_lock;
  options.rebuild_index = &result.store;
  VREPO_ASSIGN_OR_RETURN(result.repo, Repository::Discover(start, options));
  Repository& repo = *result.repo;
  if (repo.bare()) return result;
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> head, HeadFiles(repo));
  IndexBatch batch;
  for (const FileEntry& f : head)
    batch.Put(StagingKey(f.path), EncodeStagingValue(UncachedEntry(f)));
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  VREPO_RETURN_IF_ERROR(repo.store().index().Write(&batch, /*sync=*/true));
  result.staged = head.size();
  return result;
}

Result<GcResult> Gc(Repository& repo) {
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "gc"));
  VREPO_ASSIGN_OR_RETURN(ExtraRoots staged, StagedRoots(repo));
  return Gc(repo, staged);
}

}  // namespace vrepo
