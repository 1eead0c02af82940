// checkout, switch and restore: writing stored files into the working tree.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

#include "vrepo/history/tree_name.h"
#include "vrepo/util/file.h"
#include "vrepo/util/text.h"
#include "vrepo/util/thread_pool.h"
#include "vrepo/worktree/worktree.h"
#include "worktree_internal.h"

namespace vrepo {

namespace {

std::atomic<uint64_t> g_temp_counter{0};

// Writes one stored file to root/path and returns its stat for the stat cache.
// A path that is free is created in place with O_EXCL, as tar does: a crash can then leave
// only a partial *untracked* file, which status shows and checkout --force replaces. A path
// that exists is replaced through a temporary file under .vrepo/tmp and a rename, so a
// tracked file is never half-written and no stray temporary file lands in the working tree.
// (Creating every file in .vrepo/tmp costs 2x: all creates and renames then contend on
// that one folder's lock.)
Status WriteWorktreeFile(const ObjectStore& store, const std::string& root,
                         const std::string& tmp_dir, const FileEntry& f, FileStat* st) {
  std::string abs = JoinPath(root, f.path);
  mode_t mode = f.executable ? 0755 : 0644;
  std::string tmp;
  FileHandle fd(::open(abs.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) {
    if (errno != EEXIST) return Status::FromErrno(abs, errno);
    tmp = JoinPath(tmp_dir, std::to_string(g_temp_counter.fetch_add(1)));
    fd = FileHandle(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd.valid()) return Status::FromErrno(tmp, errno);
  }
  const std::string& written = tmp.empty() ? abs : tmp;
  Status s = store.WriteTo(f.id, fd.get(), abs);
  if (s.ok() && ::fchmod(fd.get(), mode) != 0) s = Status::FromErrno(abs, errno);
  struct stat ls;
  if (s.ok() && ::fstat(fd.get(), &ls) != 0) s = Status::FromErrno(abs, errno);
  if (s.ok() && ::close(fd.release()) != 0) s = Status::FromErrno("closing " + abs, errno);
  if (s.ok() && !tmp.empty() && ::rename(tmp.c_str(), abs.c_str()) != 0) {
    s = errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST
            ? Status::Conflict("cannot write '" + f.path + "': a folder is in the way")
            : Status::FromErrno("renaming " + tmp + " to " + abs, errno);
  }
  if (!s.ok()) {
    ::unlink(written.c_str());
    return s;
  }
  *st = FileStatFrom(ls);  // rename keeps the inode, mtime and size that fstat saw
  return Status::OK();
}

// Writes `files` in parallel (parent folders first, one mkdir -p per distinct folder) and
// returns their staging entries with fresh stats.
Result<std::vector<StagingEntry>> WriteFiles(Repository& repo, const std::vector<FileEntry>& files,
                                             Reporter* reporter) {
  const std::string& root = repo.root();
  const std::string tmp_dir = repo.tmp_dir();
  std::string last_dir = "\x01";
  for (const auto& f : files) {
    std::string dir = ParentPath(f.path);
    if (dir == last_dir) continue;
    last_dir = dir;
    if (!dir.empty()) VREPO_RETURN_IF_ERROR(MakeDirs(JoinPath(root, dir)));
  }
  std::vector<StagingEntry> written(files.size());
  ThreadPool pool(DefaultIoThreads());
  ReportedStep progress(reporter, "checking out", files.size());
  VREPO_RETURN_IF_ERROR(pool.TryParallelFor(files.size(), [&](size_t i) {
    const FileEntry& f = files[i];
    FileStat st;
    VREPO_RETURN_IF_ERROR(WriteWorktreeFile(repo.store(), root, tmp_dir, f, &st));
    StagingEntry& e = written[i];
    e.path = f.path;
    e.id = f.id;
    e.size = f.size;
    e.executable = f.executable;
    e.SetStat(st);
    progress.Advance();
    return Status::OK();
  }));
  return written;
}

// Whether `files` (sorted by path) holds a file at `path`.
bool HasFile(const std::vector<FileEntry>& files, const std::string& path) {
  auto it = std::lower_bound(files.begin(), files.end(), path,
                             [](const FileEntry& f, const std::string& p) { return f.path < p; });
  return it != files.end() && it->path == path;
}

// Whether the file on disk is exactly what the staging entry says, per the stat cache.
bool DiskMatchesEntry(const std::string& root, const StagingEntry& e, int64_t index_time_ns) {
  struct stat s;
  if (::lstat(JoinPath(root, e.path).c_str(), &s) != 0 || !S_ISREG(s.st_mode)) return false;
  return e.StatMatches(FileStatFrom(s)) && !e.IsRacy(index_time_ns);
}

// Whether nothing is at `path` in the working tree.
bool NothingAt(const std::string& root, const std::string& path) {
  struct stat s;
  return ::lstat(JoinPath(root, path).c_str(), &s) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

Status RemoveWorktreeFile(const std::string& root, const std::string& path) {
  std::string abs = JoinPath(root, path);
  if (::unlink(abs.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return Status::FromErrno("removing " + abs, errno);
  }
  RemoveEmptyParents(root, path);
  return Status::OK();
}

// Refuses (Conflict) when the working tree has changes a checkout would lose: any staged
// or unstaged change to a tracked file, or an untracked file where the target puts a file
// (or needs a folder).
Status CheckCheckoutSafe(Repository& repo, const std::vector<FileEntry>& target) {
  VREPO_ASSIGN_OR_RETURN(StatusReport status, ComputeStatus(repo));
  std::vector<std::string> untracked;
  for (const auto& e : status.entries) {
    if (e.staged || (e.unstaged && *e.unstaged != ChangeKind::kUntracked)) {
      return Status::Conflict("your local changes to '" + e.path +
                              "' would be overwritten by checkout [commit them, or use --force]");
    }
    if (e.unstaged) untracked.push_back(e.path);
  }
  if (untracked.empty()) return Status::OK();
  auto conflict = [](const std::string& path) {
    return Status::Conflict("the untracked file '" + path +
                            "' would be overwritten by checkout [move it away, or use --force]");
  };
  for (const auto& t : target) {
    if (std::binary_search(untracked.begin(), untracked.end(), t.path)) return conflict(t.path);
    auto it = std::lower_bound(untracked.begin(), untracked.end(), t.path + "/");
    if (it != untracked.end() && PathUnder(*it, t.path)) return conflict(*it);
    for (std::string dir = ParentPath(t.path); !dir.empty(); dir = ParentPath(dir)) {
      if (std::binary_search(untracked.begin(), untracked.end(), dir)) return conflict(dir);
    }
  }
  return Status::OK();
}

// Checks, before the first file changes, that every object `writes` needs is stored and is
// the size its pointer claims (a size is a fact, never a claim), and that no two paths land
// on one file where the filesystem folds case. So a checkout that would fail part-way for
// want of an object never begins.
Status CheckWritable(Repository& repo, const std::vector<FileEntry>& writes) {
  // A lazy clone gets every absent object in one parallel fetch now, rather than one at a
  // time while writing, and a checkout that cannot get them all changes nothing.
  if (repo.store().source() != nullptr) {
    std::vector<ContentId> ids;
    ids.reserve(writes.size());
    for (const FileEntry& f : writes) ids.push_back(f.id);
    VREPO_RETURN_IF_ERROR(repo.store().Prefetch(ids).status());
  }
  for (const FileEntry& f : writes) {
    Result<ObjectLocation> loc = repo.store().Locate(f.id);
    if (!loc.ok()) {
      return loc.status().code() == Status::Code::kNotFound
                 ? Status::NotFound("object " + f.id.Hex() + " of " + QuoteName(f.path) +
                                    " is missing from the store")
                 : loc.status();
    }
    if (loc->raw_size != f.size) {
      return Status::Corruption("object " + f.id.Hex() + " of " + QuoteName(f.path) + " holds " +
                                std::to_string(loc->raw_size) + " bytes, but its pointer says " +
                                std::to_string(f.size));
    }
  }
  // The lock file always exists, so whether its upper-case spelling opens tells whether this
  // filesystem folds case (macOS, Windows), as git's core.ignorecase probe does.
  struct stat st;
  if (::stat(JoinPath(repo.vrepo_dir(), "LOCK").c_str(), &st) != 0) return Status::OK();
  std::vector<std::pair<std::string, const std::string*>> folded;
  folded.reserve(writes.size());
  for (const FileEntry& f : writes) folded.emplace_back(FoldCase(f.path), &f.path);
  std::sort(folded.begin(), folded.end());
  for (size_t i = 1; i < folded.size(); ++i) {
    if (folded[i].first == folded[i - 1].first) {
      return Status::Corruption("paths " + QuoteName(*folded[i - 1].second) + " and " +
                                QuoteName(*folded[i].second) +
                                " differ only in case, and this filesystem folds case");
    }
  }
  return Status::OK();
}

// After a write failed part-way: puts back what `entries` (the index before the checkout)
// recorded for every path the checkout removed or wrote, and deletes files it created.
Status RollBack(Repository& repo, const std::vector<StagingEntry>& entries,
                const std::vector<size_t>& removals, const std::vector<FileEntry>& writes) {
  std::vector<FileEntry> restore;
  for (size_t i : removals) {
    if (!entries[i].absent) restore.push_back(entries[i].ToFileEntry());
  }
  for (const FileEntry& w : writes) {
    auto it =
        std::lower_bound(entries.begin(), entries.end(), w.path,
                         [](const StagingEntry& e, const std::string& p) { return e.path < p; });
    if (it != entries.end() && it->path == w.path) {
      if (it->absent) {
        VREPO_RETURN_IF_ERROR(RemoveWorktreeFile(repo.root(), w.path));
      } else {
        restore.push_back(it->ToFileEntry());
      }
    } else {
      VREPO_RETURN_IF_ERROR(RemoveWorktreeFile(repo.root(), w.path));
    }
  }
  std::sort(restore.begin(), restore.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return WriteFiles(repo, restore, nullptr).status();
}

// Removes then writes; on a failure, rolls the work tree back to `entries`.
Result<std::vector<StagingEntry>> ApplyCheckout(Repository& repo,
                                                const std::vector<StagingEntry>& entries,
                                                const std::vector<size_t>& removals,
                                                std::vector<FileEntry> writes, Reporter* reporter,
                                                bool leave_absent = false) {
  // Files whose objects this store lacks are staged as absent, with no stat cache.
  std::vector<StagingEntry> absent;
  if (leave_absent) {
    std::erase_if(writes, [&](const FileEntry& f) {
      if (repo.store().Contains(f.id)) return false;
      StagingEntry e = UncachedEntry(f);
      e.absent = true;
      absent.push_back(std::move(e));
      return true;
    });
  }
  VREPO_RETURN_IF_ERROR(CheckWritable(repo, writes));
  Status failed;
  for (size_t i : removals) {
    failed = RemoveWorktreeFile(repo.root(), entries[i].path);
    if (!failed.ok()) break;
  }
  Result<std::vector<StagingEntry>> written =
      failed.ok() ? WriteFiles(repo, writes, reporter) : Result<std::vector<StagingEntry>>(failed);
  if (written.ok()) {
    for (StagingEntry& e : absent) written->push_back(std::move(e));
    return written;
  }
  Status undo = RollBack(repo, entries, removals, writes);
  if (!undo.ok()) {
    return written.status().WithContext("checkout failed, and restoring the work tree too (" +
                                        undo.message() + ")");
  }
  return Status(written.status()).WithContext("checkout failed; the work tree is as it was");
}

}  // namespace

Status CheckoutFiles(Repository& repo, const std::vector<FileEntry>& target,
                     const std::string& tree, const CheckoutOptions& options) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "checkout"));
  const std::string& root = repo.root();
  if (!options.force) VREPO_RETURN_IF_ERROR(CheckCheckoutSafe(repo, target));
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  const auto& entries = index.entries;

  // Merge the index (what is on disk now) with the target.
  std::vector<size_t> removals;  // indices into entries
  std::vector<FileEntry> writes;
  size_t e = 0, t = 0;
  while (e < entries.size() || t < target.size()) {
    if (t == target.size() || (e < entries.size() && entries[e].path < target[t].path)) {
      removals.push_back(e++);
    } else if (e == entries.size() || target[t].path < entries[e].path) {
      writes.push_back(target[t++]);
    } else {
      const StagingEntry& cur = entries[e++];
      const FileEntry& want = target[t++];
      // An unchanged file keeps its index entry and stat cache as they are, and an unchanged
      // file of a lazy clone that was never checked out stays so.
      bool same = cur.id == want.id && cur.executable == want.executable;
      if (same && cur.absent && NothingAt(root, cur.path)) continue;
      if (!same || !DiskMatchesEntry(root, cur, index.written_ns)) {
        writes.push_back(want);
      }
    }
  }

  // Removals first: a file removed at "a" may make room for a folder "a/".
  VREPO_ASSIGN_OR_RETURN(
      std::vector<StagingEntry> written,
      ApplyCheckout(repo, entries, removals, writes, options.reporter, options.leave_absent));

  IndexBatch batch;
  for (size_t i : removals) batch.Delete(StagingKey(entries[i].path));
  for (const auto& w : written) batch.Put(StagingKey(w.path), EncodeStagingValue(w));
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  if (!tree.empty()) batch.Put(IndexTreeKey(), tree);  // after the stamp, which drops it
  return repo.store().index().Write(&batch, true);
}

Status Checkout(Repository& repo, const std::string& rev, const CheckoutOptions& options,
                bool attach_branch) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "checkout"));
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::string commit, history.ResolveCommit(rev));
  bool is_branch = false;
  if (attach_branch) {
    VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> branches, history.Branches());
    for (const auto& b : branches) is_branch |= b.name == rev;
  }
  auto move_head = [&]() {
    return is_branch ? history.SetHeadToBranch(rev) : history.DetachHead(commit);
  };

  // Same tree as HEAD: nothing on disk changes, so local changes are carried over.
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  if (head && !options.force) {
    VREPO_ASSIGN_OR_RETURN(CommitInfo from, history.GetCommit(*head));
    VREPO_ASSIGN_OR_RETURN(CommitInfo to, history.GetCommit(commit));
    if (from.tree == to.tree) return move_head();
  }

  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> target, history.ReadTree(commit));
  VREPO_ASSIGN_OR_RETURN(CommitInfo target_info, history.GetCommit(commit));
  VREPO_RETURN_IF_ERROR(CheckoutFiles(repo, target, target_info.tree, options));
  return move_head();
}

Status Switch(Repository& repo, const std::string& branch, bool create,
              const CheckoutOptions& options, const std::string& start) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "switch"));
  History& history = repo.history();
  if (create && !start.empty()) {
    VREPO_ASSIGN_OR_RETURN(std::string commit, history.ResolveCommit(start));
    VREPO_RETURN_IF_ERROR(history.CreateBranch(branch, commit, false));
    Status st = Checkout(repo, branch, options, /*attach_branch=*/true);
    if (!st.ok()) (void)history.DeleteBranch(branch);
    return st;
  }
  if (create) {
    VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
    // A new branch at HEAD changes no file, so local changes simply come along.
    if (head) VREPO_RETURN_IF_ERROR(history.CreateBranch(branch, *head, false));
    return history.SetHeadToBranch(branch);
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> branches, history.Branches());
  bool exists = false;
  for (const auto& b : branches) exists |= b.name == branch;
  if (!exists) {
    return Status::NotFound("no branch named '" + branch + "' [use --create to make it]");
  }
  return Checkout(repo, branch, options, /*attach_branch=*/true);
}

Status Restore(Repository& repo, const std::vector<std::string>& paths,
               const std::optional<std::string>& source, Reporter* reporter) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "restore"));
  const std::string& root = repo.root();
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  const auto& entries = index.entries;

  std::vector<FileEntry> source_files;
  if (source) {
    VREPO_ASSIGN_OR_RETURN(std::string commit, repo.history().ResolveCommit(*source));
    VREPO_ASSIGN_OR_RETURN(source_files, repo.history().ReadTree(commit));
  }
  std::vector<bool> from_source(source_files.size(), false), from_index(entries.size(), false);
  for (const auto& user_path : paths) {
    std::string rel = CleanPath(user_path);
    auto ir = EntriesUnder(entries, rel);
    auto sr = RangeUnder(source_files, rel);
    if (ir.first == ir.second && sr.first == sr.second) return PathspecError(user_path);
    for (size_t i = ir.first; i < ir.second; ++i) from_index[i] = true;
    for (size_t i = sr.first; i < sr.second; ++i) from_source[i] = true;
  }

  std::vector<FileEntry> writes;
  std::vector<size_t> removals;
  if (!source) {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (from_index[i] && !DiskMatchesEntry(root, entries[i], index.written_ns)) {
        writes.push_back(entries[i].ToFileEntry());
      }
    }
  } else {
    for (size_t i = 0; i < source_files.size(); ++i) {
      if (from_source[i]) writes.push_back(source_files[i]);
    }
    // Tracked files under the paths that the source lacks go, from disk and index.
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!from_index[i]) continue;
      if (!HasFile(source_files, entries[i].path)) removals.push_back(i);
    }
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<StagingEntry> written,
                         ApplyCheckout(repo, entries, removals, writes, reporter));
  IndexBatch batch;
  for (size_t i : removals) batch.Delete(StagingKey(entries[i].path));
  for (const auto& w : written) batch.Put(StagingKey(w.path), EncodeStagingValue(w));
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  return repo.store().index().Write(&batch, true);
}

Status Unstage(Repository& repo, const std::vector<std::string>& paths,
               const std::optional<std::string>& source) {
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "restore"));
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  std::vector<FileEntry> from;
  if (source) {
    VREPO_ASSIGN_OR_RETURN(std::string commit, repo.history().ResolveCommit(*source));
    VREPO_ASSIGN_OR_RETURN(from, repo.history().ReadTree(commit));
  } else {
    VREPO_ASSIGN_OR_RETURN(from, HeadFiles(repo));
  }
  IndexBatch batch;
  for (const auto& user_path : paths) {
    std::string rel = CleanPath(user_path);
    auto ir = EntriesUnder(index.entries, rel);
    auto fr = RangeUnder(from, rel);
    if (ir.first == ir.second && fr.first == fr.second) return PathspecError(user_path);
    for (size_t i = ir.first; i < ir.second; ++i) {
      const std::string& path = index.entries[i].path;
      if (!HasFile(from, path)) batch.Delete(StagingKey(path));
    }
    for (size_t i = fr.first; i < fr.second; ++i) {
      const StagingEntry* e = FindEntry(index.entries, from[i].path);
      if (e != nullptr && e->ToFileEntry() == from[i]) continue;  // keeps its stat cache
      // The working file is not what the entry names, so no stat may vouch for it.
      batch.Put(StagingKey(from[i].path), EncodeStagingValue(UncachedEntry(from[i])));
    }
  }
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  return repo.store().index().Write(&batch, true);
}

}  // namespace vrepo
