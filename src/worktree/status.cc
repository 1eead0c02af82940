// status, diff, staged files and commit: reading the staging index against HEAD and the
// working tree, and recording it as a commit.

#include <algorithm>
#include <atomic>
#include <future>

#include "vrepo/worktree/merge_state.h"
#include "vrepo/worktree/worktree.h"
#include "worktree_internal.h"

namespace vrepo {

namespace {

bool SameContent(const FileEntry& a, const StagingEntry& b) {
  return a.id == b.id && a.executable == b.executable;
}

}  // namespace

Result<std::vector<FileEntry>> WorktreeFiles(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  uint64_t hashed = 0;
  VREPO_ASSIGN_OR_RETURN(std::vector<DiskFile> disk,
                         CompareWithDisk(repo.root(), index.entries, index.written_ns, nullptr,
                                         true, nullptr, &hashed));
  std::vector<FileEntry> files;
  files.reserve(disk.size());
  for (size_t i = 0; i < disk.size(); ++i) {
    const DiskFile& d = disk[i];
    if (d.present) files.push_back(FileEntry{index.entries[i].path, d.id, d.size, d.executable});
  }
  return files;
}

namespace {

// The outermost folder above `path` that holds no tracked file, with its '/' ("" when every
// folder above it holds one): as git's -unormal shows untracked folders.
std::string UntrackedFolder(std::string_view path, const std::vector<StagingEntry>& tracked) {
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    auto range = RangeUnder(tracked, std::string(path.substr(0, slash)));
    if (range.first == range.second) return std::string(path.substr(0, slash + 1));
  }
  return "";
}

// The untracked files of `scan` (sorted) as status lists them under `mode`.
std::vector<StatusEntry> Untracked(const TreeListing& scan,
                                   const std::vector<StagingEntry>& entries, UntrackedFiles mode) {
  std::vector<StatusEntry> out;
  if (mode == UntrackedFiles::kNo) return out;
  std::string folder;  // the last folder listed whole; scan order keeps its files together
  size_t e = 0;
  for (size_t i = 0; i < scan.size(); ++i) {
    const std::string_view path = scan.path(i);
    while (e < entries.size() && entries[e].path < path) ++e;
    if (e < entries.size() && entries[e].path == path) continue;
    if (mode == UntrackedFiles::kNormal) {
      if (!folder.empty() && path.substr(0, folder.size()) == folder) continue;
      folder = UntrackedFolder(path, entries);
      if (!folder.empty()) {
        out.push_back({folder, std::nullopt, ChangeKind::kUntracked});
        continue;
      }
    }
    out.push_back({std::string(path), std::nullopt, ChangeKind::kUntracked});
  }
  return out;
}

// Whether a refs/runs/ ref points at `commit`: what makes it a training run's record.
Result<bool> IsRunCommit(History& history, const std::string& commit) {
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> runs, history.RefsWithPrefix("refs/runs/"));
  return std::any_of(runs.begin(), runs.end(),
                     [&](const RefInfo& r) { return r.target == commit; });
}

}  // namespace

struct PendingWalk {
  std::string root;
  std::future<Result<TreeListing>> listing;
};

std::shared_ptr<PendingWalk> StartStatusWalk(const std::string& root, Reporter* reporter) {
  auto walk = std::make_shared<PendingWalk>();
  walk->root = root;
  walk->listing =
      std::async(std::launch::async, [root, reporter] { return ListTree(root, "", reporter); });
  return walk;
}

Result<StatusReport> ComputeStatus(Repository& repo, std::shared_ptr<PendingWalk> walk,
                                   UntrackedFiles untracked) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  // The walk of the working tree is mostly kernel time; reading the staging index and HEAD
  // meanwhile hides their cost.
  if (walk == nullptr || walk->root != repo.root()) walk = StartStatusWalk(repo.root());
  StatusReport report;
  VREPO_ASSIGN_OR_RETURN(report.branch, repo.history().CurrentBranch());
  VREPO_ASSIGN_OR_RETURN(report.head, repo.history().HeadCommit());
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  const auto& entries = index.entries;
  // When the index is known to equal HEAD's tree, nothing is staged and HEAD's files need
  // not be read; compare the index with itself instead.
  std::vector<FileEntry> head;
  bool index_is_head = false;
  if (report.head) {
    VREPO_ASSIGN_OR_RETURN(CommitInfo info, repo.history().GetCommit(*report.head));
    index_is_head = !index.tree.empty() && index.tree == info.tree;
    if (!index_is_head) {
      VREPO_ASSIGN_OR_RETURN(head, repo.history().ReadTree(*report.head));
    }
  }
  VREPO_ASSIGN_OR_RETURN(TreeListing scan, walk->listing.get());
  VREPO_ASSIGN_OR_RETURN(std::vector<DiskFile> disk,
                         CompareWithDisk(repo.root(), entries, index.written_ns, &scan, false,
                                         nullptr, &report.files_hashed));

  // Staged: HEAD vs index (both sorted by path).
  std::vector<StatusEntry> out;
  size_t h = 0, e = 0;
  while (!index_is_head && (h < head.size() || e < entries.size())) {
    if (e == entries.size() || (h < head.size() && head[h].path < entries[e].path)) {
      out.push_back({head[h++].path, ChangeKind::kDeleted, std::nullopt});
    } else if (h == head.size() || entries[e].path < head[h].path) {
      out.push_back({entries[e++].path, ChangeKind::kAdded, std::nullopt});
    } else {
      if (!SameContent(head[h], entries[e])) {
        out.push_back({entries[e].path, ChangeKind::kModified, std::nullopt});
      }
      ++h;
      ++e;
    }
  }
  // Unstaged: index vs working tree, and untracked files.
  std::vector<StatusEntry> unstaged;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!disk[i].present) {
      unstaged.push_back({entries[i].path, std::nullopt, ChangeKind::kDeleted});
    } else if (disk[i].modified) {
      unstaged.push_back({entries[i].path, std::nullopt, ChangeKind::kModified});
    }
  }
  for (auto& u : Untracked(scan, entries, untracked)) unstaged.push_back(std::move(u));
  std::sort(unstaged.begin(), unstaged.end(),
            [](const StatusEntry& a, const StatusEntry& b) { return a.path < b.path; });
  // Both lists are sorted; merge them, joining entries for the same path.
  std::vector<StatusEntry> merged;
  merged.reserve(out.size() + unstaged.size());
  std::merge(out.begin(), out.end(), unstaged.begin(), unstaged.end(), std::back_inserter(merged),
             [](const StatusEntry& a, const StatusEntry& b) { return a.path < b.path; });
  for (auto& m : merged) {
    if (!report.entries.empty() && report.entries.back().path == m.path) {
      if (m.staged) report.entries.back().staged = m.staged;
      if (m.unstaged) report.entries.back().unstaged = m.unstaged;
    } else {
      report.entries.push_back(std::move(m));
    }
  }
  VREPO_ASSIGN_OR_RETURN(std::optional<MergeState> merge, ReadMergeState(repo));
  if (merge) {
    report.merge_head = merge->merge_head;
    VREPO_ASSIGN_OR_RETURN(report.unmerged, UnresolvedFiles(repo, *merge));
  }
  return report;
}

Result<std::vector<FileEntry>> StagedFiles(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  std::vector<FileEntry> files;
  files.reserve(index.entries.size());
  for (const auto& e : index.entries) files.push_back(e.ToFileEntry());
  return files;
}

std::vector<DiffEntry> DiffFiles(const std::vector<FileEntry>& old_files,
                                 const std::vector<FileEntry>& new_files) {
  std::vector<DiffEntry> out;
  size_t o = 0, n = 0;
  while (o < old_files.size() || n < new_files.size()) {
    if (n == new_files.size() || (o < old_files.size() && old_files[o].path < new_files[n].path)) {
      const FileEntry& f = old_files[o++];
      out.push_back({f.path, ChangeKind::kDeleted, f.size, 0, f.id, std::nullopt});
    } else if (o == old_files.size() || new_files[n].path < old_files[o].path) {
      const FileEntry& f = new_files[n++];
      out.push_back({f.path, ChangeKind::kAdded, 0, f.size, std::nullopt, f.id});
    } else {
      const FileEntry& a = old_files[o++];
      const FileEntry& b = new_files[n++];
      if (a.id != b.id || a.executable != b.executable) {
        out.push_back({b.path, ChangeKind::kModified, a.size, b.size, a.id, b.id});
      }
    }
  }
  return out;
}

Result<std::vector<DiffEntry>> CommitChanges(Repository& repo, const std::string& commit_id) {
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(CommitInfo commit, history.GetCommit(commit_id));
  std::vector<FileEntry> before;
  // A run's first parent is the dataset it trained on, not an earlier state of its files.
  VREPO_ASSIGN_OR_RETURN(bool run, IsRunCommit(history, commit.id));
  if (!commit.parents.empty() && !run) {
    VREPO_ASSIGN_OR_RETURN(before, history.ReadTree(commit.parents[0]));
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> after, history.ReadTree(commit.id));
  return DiffFiles(before, after);
}

Result<std::vector<DiffEntry>> Diff(Repository& repo, const std::vector<std::string>& revs,
                                    const std::vector<std::string>& paths) {
  if (revs.size() > 2) {
    return Status::InvalidArgument("diff takes at most two revisions, got " +
                                   std::to_string(revs.size()));
  }
  if (revs.size() < 2) VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  std::vector<FileEntry> old_files, new_files;
  if (revs.empty()) {
    VREPO_ASSIGN_OR_RETURN(old_files, StagedFiles(repo));
  } else {
    VREPO_ASSIGN_OR_RETURN(std::string c, repo.history().ResolveCommit(revs[0]));
    VREPO_ASSIGN_OR_RETURN(old_files, repo.history().ReadTree(c));
  }
  if (revs.size() == 2) {
    VREPO_ASSIGN_OR_RETURN(std::string c, repo.history().ResolveCommit(revs[1]));
    VREPO_ASSIGN_OR_RETURN(new_files, repo.history().ReadTree(c));
  } else {
    VREPO_ASSIGN_OR_RETURN(new_files, WorktreeFiles(repo));
  }
  std::vector<DiffEntry> changes = DiffFiles(old_files, new_files);
  if (paths.empty()) return changes;
  std::erase_if(changes, [&](const DiffEntry& d) {
    return std::none_of(paths.begin(), paths.end(),
                        [&](const std::string& p) { return PathUnder(d.path, CleanPath(p)); });
  });
  return changes;
}

Result<CommitResult> Commit(Repository& repo, const std::string& message, bool allow_empty) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "commit"));
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("aborting commit due to empty commit message");
  }
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, StagedFiles(repo));
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  VREPO_ASSIGN_OR_RETURN(std::optional<MergeState> merge, ReadMergeState(repo));
  if (merge) {
    VREPO_ASSIGN_OR_RETURN(std::vector<std::string> unresolved, UnresolvedFiles(repo, *merge));
    if (!unresolved.empty()) {
      return Status::Conflict("'" + unresolved.front() + "' has merge conflicts (" +
                              std::to_string(unresolved.size()) + " file(s) unresolved)");
    }
    allow_empty = true;  // a merge that keeps ours' tree is still a merge
  }

  // No existence check of the staged objects: staging entries are only ever written in the
  // same atomic batch as the objects they name (see Add), and gc keeps what the index names.
  VREPO_ASSIGN_OR_RETURN(std::string tree, history.WriteTree(files));
  if (!allow_empty) {
    if (head) {
      VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(*head));
      if (info.tree == tree) {
        return Status::InvalidArgument("nothing to commit: the staging index matches HEAD");
      }
    } else if (files.empty()) {
      return Status::InvalidArgument("nothing to commit: no files are staged");
    }
  }
  std::vector<std::string> parents;
  if (head) parents.push_back(*head);
  if (merge) parents.push_back(merge->merge_head);
  VREPO_ASSIGN_OR_RETURN(std::string commit, history.CreateCommit(tree, parents, message));
  std::string first_line = message.substr(0, message.find('\n'));
  const char* reflog = merge ? "commit (merge): " : head ? "commit: " : "commit (initial): ";
  VREPO_RETURN_IF_ERROR(history.AdvanceHead(commit, head, reflog + first_line));
  // HEAD has moved, so a crash before this leaves a stale state that reads as none.
  if (merge) VREPO_RETURN_IF_ERROR(RemoveMergeState(repo));
  {
    // A hint for status; losing it in a crash only costs one read of the tree.
    IndexBatch batch;
    batch.Put(IndexTreeKey(), tree);
    VREPO_RETURN_IF_ERROR(repo.store().index().Write(&batch, false));
  }
  CommitResult result;
  result.commit = commit;
  VREPO_ASSIGN_OR_RETURN(result.branch, history.CurrentBranch());
  result.files = files.size();
  result.root_commit = !head;
  return result;
}

}  // namespace vrepo
