#include "vrepo/dataset/worktree_dataset.h"

#include "vrepo/util/file.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo {

Result<DatasetVersion> LoadUncommittedDataset(Repository& repo, UncommittedFiles files,
                                              const std::string& table_path,
                                              const TableOptions& options) {
  if (files == UncommittedFiles::kIndex) {
    VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> staged, StagedFiles(repo));
    const ObjectStore& store = repo.store();
    return JoinDataset(staged, table_path, options, "the staging index",
                       [&](const FileEntry& f) { return store.Get(f.id); });
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> on_disk, WorktreeFiles(repo));
  return JoinDataset(on_disk, table_path, options, "the working tree",
                     [&](const FileEntry& f) { return ReadFile(JoinPath(repo.root(), f.path)); });
}

}  // namespace vrepo
