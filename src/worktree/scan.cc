#include "vrepo/worktree/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "vrepo/util/file.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

struct Child {
  std::string key;  // name, with a trailing '/' for folders so that siblings sort as paths do
  bool is_dir;
  FileStat stat;
};

void Warn(const std::string& what, const std::string& path) {
  std::fprintf(stderr, "vrepo: warning: skipping %s '%s' (not supported in this version)\n",
               what.c_str(), path.c_str());
}

class Walker {
 public:
  Walker(std::vector<ScannedFile>* out, IgnoreStack* ignore, ThreadPool* pool)
      : out_(out), ignore_(ignore), pool_(pool) {}

  // Takes ownership of `fd`, an open folder at `rel`.
  Status Walk(int fd, const std::string& rel) {
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
    if (!dir) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("opening folder " + Display(rel), err);
    }
    int dfd = ::dirfd(dir.get());
    std::vector<Child> children;
    std::vector<unsigned char> types;
    bool has_ignore_file = false;
    errno = 0;
    while (struct dirent* de = ::readdir(dir.get())) {
      const char* name = de->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      if (rel.empty() && std::strcmp(name, ".vrepo") == 0) continue;
      if (std::strcmp(name, kIgnoreFileName) == 0) has_ignore_file = true;
      children.push_back(Child{name, de->d_type == DT_DIR, {}});
      types.push_back(de->d_type);
      errno = 0;
    }
    if (errno != 0) return Status::FromErrno("reading folder " + Display(rel), errno);

    // lstat dominates a walk of an unchanged tree; in a big folder, spread it over threads
    // (as git's preloaded index does) since each call mostly waits on the kernel's locks.
    std::vector<int> stat_errors(children.size(), 0);
    std::vector<struct stat> stats(children.size());
    auto stat_one = [&](size_t i) {
      if (types[i] != DT_REG && types[i] != DT_UNKNOWN) return;
      if (::fstatat(dfd, children[i].key.c_str(), &stats[i], AT_SYMLINK_NOFOLLOW) != 0) {
        stat_errors[i] = errno;
      }
    };
    const size_t kBlock = 1024;
    if (pool_ != nullptr && children.size() > 2 * kBlock) {
      pool_->ParallelFor((children.size() + kBlock - 1) / kBlock, [&](size_t b) {
        for (size_t i = b * kBlock; i < std::min(children.size(), (b + 1) * kBlock); ++i) {
          stat_one(i);
        }
      });
    } else {
      for (size_t i = 0; i < children.size(); ++i) stat_one(i);
    }
    size_t kept = 0;
    for (size_t i = 0; i < children.size(); ++i) {
      Child& c = children[i];
      unsigned char type = types[i];
      if (type == DT_REG || type == DT_UNKNOWN) {
        if (stat_errors[i] == ENOENT) continue;  // deleted while we walk
        if (stat_errors[i] != 0) return Status::FromErrno(JoinPath(rel, c.key), stat_errors[i]);
        const struct stat& st = stats[i];
        if (S_ISDIR(st.st_mode)) {
          c.is_dir = true;
        } else if (S_ISREG(st.st_mode)) {
          c.stat = FileStatFrom(st);
        } else {
          Warn(S_ISLNK(st.st_mode) ? "symlink" : "special file", JoinPath(rel, c.key));
          continue;
        }
      } else if (type != DT_DIR) {
        Warn(type == DT_LNK ? "symlink" : "special file", JoinPath(rel, c.key));
        continue;
      }
      if (c.is_dir) c.key.push_back('/');
      if (kept != i) children[kept] = std::move(c);
      ++kept;
    }
    children.resize(kept);


    bool pushed = false;
    if (has_ignore_file) {
      std::string path = JoinPath(rel, kIgnoreFileName);
      FileHandle ifd(::openat(dfd, kIgnoreFileName, O_RDONLY | O_CLOEXEC));
      if (ifd.valid()) {
        std::string text;
        char buf[8192];
        ssize_t n;
        while ((n = ::read(ifd.get(), buf, sizeof(buf))) > 0) text.append(buf, size_t(n));
        if (n < 0) return Status::FromErrno("reading " + path, errno);
        ignore_->Push(ParseIgnoreFile(rel, text));
        pushed = true;
      }
    }

    std::sort(children.begin(), children.end(),
              [](const Child& a, const Child& b) { return a.key < b.key; });
    Status result;
    for (auto& c : children) {
      std::string name = c.is_dir ? c.key.substr(0, c.key.size() - 1) : c.key;
      std::string path = JoinPath(rel, name);
      if (ignore_->IsIgnored(path, c.is_dir)) continue;
      if (!c.is_dir) {
        out_->push_back(ScannedFile{std::move(path), c.stat});
        continue;
      }
      int child = ::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) {
        if (errno == ENOENT) continue;
        result = Status::FromErrno("opening folder " + path, errno);
        break;
      }
      result = Walk(child, path);
      if (!result.ok()) break;
    }
    if (pushed) ignore_->Pop();
    return result;
  }

 private:
  static std::string Display(const std::string& rel) { return rel.empty() ? "." : rel; }
  std::vector<ScannedFile>* out_;
  IgnoreStack* ignore_;
  ThreadPool* pool_;
};

}  // namespace

Result<std::vector<ScannedFile>> ScanTree(const std::string& root, const std::string& folder) {
  IgnoreStack ignore;
  VREPO_RETURN_IF_ERROR(ignore.LoadAncestors(root, folder));
  std::string abs = JoinPath(root, folder);
  int fd = ::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("opening folder " + abs, errno);
  std::vector<ScannedFile> files;
  ThreadPool pool(DefaultIoThreads());
  Walker walker(&files, &ignore, &pool);
  VREPO_RETURN_IF_ERROR(walker.Walk(fd, folder));
  return files;
}

Status StatPath(const std::string& root, const std::string& path, FileStat* st, bool* is_regular,
                bool* is_dir) {
  struct stat s;
  std::string abs = JoinPath(root, path);
  if (::lstat(abs.c_str(), &s) != 0) {
    if (errno == ENOTDIR) return Status::NotFound(path + ": a parent is not a folder");
    return Status::FromErrno(path, errno);
  }
  *st = FileStatFrom(s);
  *is_regular = S_ISREG(s.st_mode);
  *is_dir = S_ISDIR(s.st_mode);
  return Status::OK();
}

Status HashFile(const std::string& abs_path, ContentId* id, FileStat* st) {
  FileHandle fd(::open(abs_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME));
  if (!fd.valid() && errno == EPERM)
    fd = FileHandle(::open(abs_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(abs_path, errno);
  thread_local std::unique_ptr<char[]> buf(new char[1 << 20]);
  Sha256 sha;
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd.get(), buf.get(), 1 << 20);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("reading " + abs_path, errno);
    }
    if (n == 0) break;
    sha.Update(std::string_view(buf.get(), size_t(n)));
    total += uint64_t(n);
  }
  struct stat s;
  if (::fstat(fd.get(), &s) != 0) return Status::FromErrno(abs_path, errno);
  *st = FileStatFrom(s);
  if (st->size != total) {  // changed while we read: describe what was hashed, trust nothing
    st->size = total;
    st->mtime_ns = 0;
  }
  *id = sha.Finish();
  return Status::OK();
}

}  // namespace vrepo
