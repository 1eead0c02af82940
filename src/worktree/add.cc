// add, rm and mv: the operations that change only the staging index (and, for rm and mv,
// the working tree).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>

#include "vrepo/util/file.h"
#include "vrepo/util/text.h"
#include "vrepo/util/thread_pool.h"
#include "vrepo/worktree/worktree.h"
#include "worktree_internal.h"

namespace vrepo {

namespace {

bool PathLess(const ScannedFile& a, const ScannedFile& b) { return a.path < b.path; }

// Reads a small file whole into `buf` (reused across calls on one thread) and stats the
// open descriptor, so the stat describes the bytes read.
Status ReadSmallFile(const std::string& abs, std::string* buf, FileStat* st) {
  FileHandle fd(::open(abs.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME));
  if (!fd.valid() && errno == EPERM) fd = FileHandle(::open(abs.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(abs, errno);
  struct stat s;
  if (::fstat(fd.get(), &s) != 0) return Status::FromErrno(abs, errno);
  size_t cap = static_cast<size_t>(s.st_size) + 1;  // +1 sees growth without a second read
  if (buf->size() < cap) buf->resize(cap);
  size_t done = 0;
  while (true) {
    if (done == buf->size()) buf->resize(buf->size() * 2);
    ssize_t n = ::read(fd.get(), buf->data() + done, buf->size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("reading " + abs, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  if (::fstat(fd.get(), &s) != 0) return Status::FromErrno(abs, errno);
  *st = FileStatFrom(s);
  if (st->size != done) {
    st->size = done;
    st->mtime_ns = 0;
  }
  return Status::OK();
}

// Stores the file `f` under `root` through `writer` (big files chunked, read as a stream) and
// fills its staging entry's id and path; `*st` is the stat of the bytes stored.
Status StoreFile(PackWriter& writer, const std::string& root, const ScannedFile& f,
                 uint64_t chunk_threshold, StagingEntry* e, FileStat* st) {
  const std::string abs = JoinPath(root, f.path);
  e->path = f.path;
  if (f.stat.size >= chunk_threshold) {
    VREPO_ASSIGN_OR_RETURN(auto put, writer.PutFile(abs));
    e->id = put.first;
    struct stat ls;
    if (::lstat(abs.c_str(), &ls) != 0) return Status::FromErrno(abs, errno);
    *st = FileStatFrom(ls);
    if (st->size != put.second) {  // changed while read: the next status must look again
      st->size = put.second;
      st->mtime_ns = 0;
    }
  } else {
    thread_local std::string buf;
    VREPO_RETURN_IF_ERROR(ReadSmallFile(abs, &buf, st));
    VREPO_ASSIGN_OR_RETURN(e->id, writer.Put(std::string_view(buf.data(), st->size)));
  }
  e->size = st->size;
  e->executable = st->executable;
  e->SetStat(*st);
  return Status::OK();
}

// The regular files under `paths`, sorted; marks in `*tracked_under` the entries under them.
Result<std::vector<ScannedFile>> ScanPaths(const std::string& root,
                                           const std::vector<std::string>& paths,
                                           const std::vector<StagingEntry>& entries,
                                           Reporter* reporter, std::vector<bool>* tracked_under) {
  std::vector<ScannedFile> files;
  for (const auto& user_path : paths) {
    std::string rel = CleanPath(user_path);
    auto range = EntriesUnder(entries, rel);
    for (size_t i = range.first; i < range.second; ++i) (*tracked_under)[i] = true;
    FileStat st;
    bool is_regular = false, is_dir = false;
    Status s = StatPath(root, rel, &st, &is_regular, &is_dir);
    if (s.code() == Status::Code::kNotFound) {
      if (range.first == range.second) return PathspecError(user_path);
      continue;
    }
    VREPO_RETURN_IF_ERROR(s);
    if (is_dir) {
      VREPO_ASSIGN_OR_RETURN(std::vector<ScannedFile> found, ScanTree(root, rel, reporter));
      if (files.empty()) {
        files = std::move(found);
      } else {
        files.insert(files.end(), std::make_move_iterator(found.begin()),
                     std::make_move_iterator(found.end()));
      }
    } else if (is_regular) {
      files.push_back(ScannedFile{rel, st});
    } else {
      Warn(reporter, "skipping " + QuoteName(rel) + " (only regular files are supported)");
    }
  }
  if (paths.size() > 1) {
    std::sort(files.begin(), files.end(), PathLess);
    files.erase(
        std::unique(files.begin(), files.end(),
                    [](const ScannedFile& a, const ScannedFile& b) { return a.path == b.path; }),
        files.end());
  }

  return files;
}

}  // namespace

Result<AddResult> Add(Repository& repo, const std::vector<std::string>& paths,
                      const AddOptions& options) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "add"));
  const std::string& root = repo.root();
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  const auto& entries = index.entries;

  // Candidates: every regular file under the paths, plus tracked files under them that the
  // walk did not see (they may sit in an ignored folder) but still exist.
  std::vector<bool> tracked_under(entries.size(), false);
  VREPO_ASSIGN_OR_RETURN(std::vector<ScannedFile> files,
                         ScanPaths(root, paths, entries, options.reporter, &tracked_under));
  std::vector<size_t> removed;  // indices into entries
  {
    size_t fi = 0;
    std::vector<ScannedFile> extra;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!tracked_under[i]) continue;
      while (fi < files.size() && files[fi].path < entries[i].path) ++fi;
      if (fi < files.size() && files[fi].path == entries[i].path) continue;
      FileStat st;
      bool is_regular = false, is_dir = false;
      Status s = StatPath(root, entries[i].path, &st, &is_regular, &is_dir);
      if (s.ok() && is_regular) {
        extra.push_back(ScannedFile{entries[i].path, st});
      } else if (!(entries[i].absent && s.code() == Status::Code::kNotFound)) {
        removed.push_back(i);  // a lazy clone's file never checked out stays tracked
      }
    }
    if (!extra.empty()) {
      files.insert(files.end(), extra.begin(), extra.end());
      std::sort(files.begin(), files.end(), PathLess);
    }
  }

  // Files whose stat cache entry still holds need not be read.
  std::vector<size_t> to_store;
  std::vector<const StagingEntry*> old(files.size(), nullptr);
  {
    size_t ei = 0;
    for (size_t f = 0; f < files.size(); ++f) {
      while (ei < entries.size() && entries[ei].path < files[f].path) ++ei;
      if (ei < entries.size() && entries[ei].path == files[f].path) {
        old[f] = &entries[ei];
        if (old[f]->StatMatches(files[f].stat) && !old[f]->IsRacy(index.written_ns)) continue;
      }
      to_store.push_back(f);
    }
  }

  AddResult result;
  std::vector<StagingEntry> staged(to_store.size());
  std::unique_ptr<PackWriter> writer;
  if (!to_store.empty()) {
    VREPO_ASSIGN_OR_RETURN(writer, repo.store().NewWriter());
    ThreadPool pool(DefaultIoThreads());
    ReportedStep progress(options.reporter, "adding", to_store.size());
    const uint64_t threshold = repo.store().options().chunk_threshold;
    std::atomic<uint64_t> bytes{0};
    VREPO_RETURN_IF_ERROR(pool.TryParallelFor(to_store.size(), [&](size_t k) {
      const ScannedFile& f = files[to_store[k]];
      StagingEntry& e = staged[k];
      FileStat st;
      VREPO_RETURN_IF_ERROR(
          StoreFile(*writer, root, f, threshold, &e, &st).WithContext("adding " + f.path));
      bytes.fetch_add(st.size, std::memory_order_relaxed);
      progress.Advance();
      return Status::OK();
    }));
    result.bytes_read = bytes.load();
  }

  IndexBatch batch;
  for (size_t k = 0; k < to_store.size(); ++k) {
    const StagingEntry* prev = old[to_store[k]];
    if (!prev || prev->id != staged[k].id || prev->executable != staged[k].executable) {
      ++result.files_added;
    }
    batch.Put(StagingKey(staged[k].path), EncodeStagingValue(staged[k]));
  }
  for (size_t i : removed) batch.Delete(StagingKey(entries[i].path));
  result.files_removed = removed.size();
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  // Objects and the entries naming them become visible in one synced write.
  if (writer) {
    VREPO_RETURN_IF_ERROR(writer->Commit(&batch));
    return result;
  }
  VREPO_RETURN_IF_ERROR(repo.store().index().Write(&batch, true));
  return result;
}

Status Remove(Repository& repo, const std::vector<std::string>& paths, bool cached, bool force) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "rm"));
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  std::vector<bool> selected(index.entries.size(), false);
  for (const auto& user_path : paths) {
    auto range = EntriesUnder(index.entries, CleanPath(user_path));
    if (range.first == range.second) return PathspecError(user_path);
    for (size_t i = range.first; i < range.second; ++i) selected[i] = true;
  }
  std::vector<StagingEntry> targets;
  for (size_t i = 0; i < index.entries.size(); ++i) {
    if (selected[i]) targets.push_back(index.entries[i]);
  }

  if (!force) {
    VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> head, HeadFiles(repo));
    ThreadPool pool(DefaultIoThreads());
    uint64_t hashed = 0;
    VREPO_ASSIGN_OR_RETURN(
        std::vector<DiskFile> disk,
        CompareWithDisk(repo.root(), targets, index.written_ns, nullptr, false, &pool, &hashed));
    for (size_t i = 0; i < targets.size(); ++i) {
      const StagingEntry& e = targets[i];
      auto it =
          std::lower_bound(head.begin(), head.end(), e.path,
                           [](const FileEntry& f, const std::string& p) { return f.path < p; });
      bool staged = it == head.end() || it->path != e.path || it->id != e.id ||
                    it->executable != e.executable;
      bool local = disk[i].present && disk[i].modified;
      if (cached) {
        if (staged && local) {
          return Status::Conflict("'" + e.path +
                                  "' has staged content different from both the file and HEAD "
                                  "[use --force to unstage it anyway]");
        }
      } else if (staged) {
        return Status::Conflict("'" + e.path +
                                "' has changes staged in the index [use --cached to keep the "
                                "file, or --force to remove it]");
      } else if (local) {
        return Status::Conflict("'" + e.path +
                                "' has local modifications [use --cached to keep the file, or "
                                "--force to remove it]");
      }
    }
  }

  IndexBatch batch;
  for (const auto& e : targets) batch.Delete(StagingKey(e.path));
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  VREPO_RETURN_IF_ERROR(repo.store().index().Write(&batch, true));
  if (cached) return Status::OK();
  // The index no longer names the files, so a failure below leaves untracked files, never
  // tracked ones that are missing.
  for (const auto& e : targets) {
    std::string abs = JoinPath(repo.root(), e.path);
    if (::unlink(abs.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
      return Status::FromErrno("removing " + abs, errno);
    }
    RemoveEmptyParents(repo.root(), e.path);
  }
  return Status::OK();
}

Status Move(Repository& repo, const std::string& from_path, const std::string& to_path) {
  VREPO_RETURN_IF_ERROR(RequireWorkTree(repo));
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "mv"));
  const std::string& root = repo.root();
  std::string from = CleanPath(from_path), to = CleanPath(to_path);
  if (from.empty()) return Status::InvalidArgument("cannot move the root of the working tree");
  VREPO_ASSIGN_OR_RETURN(StagingIndex index, LoadStaging(repo.store().index()));
  auto range = EntriesUnder(index.entries, from);
  if (range.first == range.second) {
    return Status::NotFound("'" + from_path + "' is not tracked [add it first]");
  }
  FileStat st;
  bool is_regular = false, is_dir = false;
  Status s = StatPath(root, from, &st, &is_regular, &is_dir);
  if (!s.ok()) return Status::NotFound("cannot move '" + from_path + "': it does not exist");
  std::string dest = to;
  if (StatPath(root, to, &st, &is_regular, &is_dir).ok()) {
    if (!is_dir)
      return Status::Conflict("cannot move '" + from_path + "': '" + to_path + "' already exists");
    size_t slash = from.rfind('/');
    dest = JoinPath(to, slash == std::string::npos ? from : from.substr(slash + 1));
    if (StatPath(root, dest, &st, &is_regular, &is_dir).ok()) {
      return Status::Conflict("cannot move '" + from_path + "': '" + dest + "' already exists");
    }
  }
  if (PathUnder(dest, from)) {
    return Status::InvalidArgument("cannot move '" + from_path + "' into itself");
  }
  VREPO_RETURN_IF_ERROR(MakeDirs(ParentPath(JoinPath(root, dest))));
  std::string abs_from = JoinPath(root, from), abs_dest = JoinPath(root, dest);
  if (::rename(abs_from.c_str(), abs_dest.c_str()) != 0) {
    return Status::FromErrno("renaming " + abs_from + " to " + abs_dest, errno);
  }
  IndexBatch batch;
  for (size_t i = range.first; i < range.second; ++i) {
    StagingEntry e = index.entries[i];
    batch.Delete(StagingKey(e.path));
    e.path = dest + e.path.substr(from.size());
    // A rename changes the ctime only; keep the cache valid when nothing else changed.
    FileStat now;
    if (StatPath(root, e.path, &now, &is_regular, &is_dir).ok() && is_regular && now.ino == e.ino &&
        now.mtime_ns == e.mtime_ns && now.size == e.size) {
      e.ctime_ns = now.ctime_ns;
    }
    batch.Put(StagingKey(e.path), EncodeStagingValue(e));
  }
  VREPO_RETURN_IF_ERROR(PutStagingTime(repo.vrepo_dir() + "/lock", &batch));
  Status w = repo.store().index().Write(&batch, true);
  if (w.ok()) RemoveEmptyParents(root, from);
  return w;
}

}  // namespace vrepo
