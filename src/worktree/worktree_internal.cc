#include "worktree_internal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>

#include "vrepo/util/file.h"

namespace vrepo {

Result<std::vector<DiskFile>> CompareWithDisk(const std::string& root,
                                              const std::vector<StagingEntry>& entries,
                                              int64_t index_time_ns, const TreeListing* scan,
                                              bool need_ids, ThreadPool* pool, uint64_t* hashed) {
  std::vector<DiskFile> out(entries.size());
  std::vector<size_t> to_hash;
  size_t si = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const StagingEntry& e = entries[i];
    FileStat st;
    bool found = false;
    if (scan) {
      while (si < scan->size() && scan->path(si) < e.path) ++si;
      if (si < scan->size() && scan->path(si) == e.path) {
        st = scan->stat(si);
        found = true;
      }
    }
    if (!found) {
      // Not seen by the walk: in an ignored folder, replaced by a folder, or gone.
      struct stat s;
      std::string abs = JoinPath(root, e.path);
      if (::lstat(abs.c_str(), &s) != 0) {
        if ((errno == ENOENT || errno == ENOTDIR) && e.absent) {
          // A lazy clone's file never checked out is as the index says, not deleted.
          out[i] = DiskFile{};
          out[i].present = true;
          out[i].id = e.id;
          out[i].size = e.size;
          out[i].executable = e.executable;
          continue;
        }
        if (errno == ENOENT || errno == ENOTDIR) continue;
        return Status::FromErrno(abs, errno);
      }
      if (!S_ISREG(s.st_mode)) continue;
      st = FileStatFrom(s);
    }
    DiskFile& d = out[i];
    d.present = true;
    d.id = e.id;
    d.size = e.size;
    d.executable = e.executable;
    if (e.StatMatches(st) && !e.IsRacy(index_time_ns)) continue;
    if (!need_ids && (st.size != e.size || st.executable != e.executable)) {
      d.modified = true;
      d.size = st.size;
      d.executable = st.executable;
      continue;
    }
    to_hash.push_back(i);
  }

  if (to_hash.empty()) return out;
  std::optional<ThreadPool> own_pool;
  if (pool == nullptr) pool = &own_pool.emplace(DefaultIoThreads());
  std::atomic<uint64_t> count{0};
  VREPO_RETURN_IF_ERROR(pool->TryParallelFor(to_hash.size(), [&](size_t k) {
    size_t i = to_hash[k];
    DiskFile& d = out[i];
    ContentId id;
    FileStat st;
    Status s = HashFile(JoinPath(root, entries[i].path), &id, &st);
    if (s.code() == Status::Code::kNotFound) {
      d.present = false;
      return Status::OK();
    }
    VREPO_RETURN_IF_ERROR(s);
    count.fetch_add(1, std::memory_order_relaxed);
    d.hashed = true;
    d.id = id;
    d.size = st.size;
    d.executable = st.executable;
    d.modified = id != entries[i].id || st.executable != entries[i].executable;
    return Status::OK();
  }));
  *hashed += count.load();
  return out;
}

std::string CleanPath(std::string path) {
  while (path.rfind("./", 0) == 0) path.erase(0, 2);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path == ".") path.clear();
  return path;
}

StagingEntry UncachedEntry(const FileEntry& f) {
  StagingEntry e;
  e.path = f.path;
  e.id = f.id;
  e.size = f.size;
  e.executable = f.executable;
  return e;
}

Result<std::vector<FileEntry>> HeadFiles(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, repo.history().HeadCommit());
  if (!head) return std::vector<FileEntry>{};
  return repo.history().ReadTree(*head);
}

void RemoveEmptyParents(const std::string& root, const std::string& path) {
  std::string dir = ParentPath(path);
  while (!dir.empty() && dir != "/") {
    if (::rmdir(JoinPath(root, dir).c_str()) != 0) return;  // not empty, or already gone
    dir = ParentPath(dir);
  }
}

Status PathspecError(const std::string& path) {
  return Status::NotFound("pathspec '" + (path.empty() ? std::string(".") : path) +
                          "' did not match any files");
}

}  // namespace vrepo
