#include "vrepo/util/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace vrepo {

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("writing " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string> ReadFile(const std::string& path) {
  FileHandle fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(path, errno);
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (true) {
    if (done == out.size()) out.resize(out.size() * 2 + 4096);  // the file grew under us
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("reading " + path, errno);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

namespace {

// Empties the folder open as `dfd` (which it closes), depth first.
Status RemoveContents(int dfd, const std::string& where) {
  DIR* dir = ::fdopendir(dfd);
  if (dir == nullptr) {
    int err = errno;
    ::close(dfd);
    return Status::FromErrno(where, err);
  }
  Status result;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string child = where + "/" + e->d_name;
    if (::unlinkat(dfd, e->d_name, 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      result = Status::FromErrno("removing " + child, errno);
      break;
    }
    int sub = ::openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      result = Status::FromErrno("opening folder " + child, errno);
      break;
    }
    result = RemoveContents(sub, child);
    if (!result.ok()) break;
    if (::unlinkat(dfd, e->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
      result = Status::FromErrno("removing folder " + child, errno);
      break;
    }
  }
  ::closedir(dir);
  return result;
}

}  // namespace

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status RemoveTree(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return Status::OK();
  if (errno != EISDIR && errno != EPERM) return Status::FromErrno("removing " + path, errno);
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("opening folder " + path, errno);
  VREPO_RETURN_IF_ERROR(RemoveContents(fd, path));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("removing folder " + path, errno);
  }
  return Status::OK();
}

std::string ParentPath(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

Status SyncDir(const std::string& dir) {
  FileHandle fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(dir, errno);
  if (::fsync(fd.get()) != 0) return Status::FromErrno("syncing " + dir, errno);
  return Status::OK();
}

Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return Status::OK();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::IOError(dir + ": exists and is not a folder");
  }
  std::string parent = ParentPath(dir);
  if (!parent.empty() && parent != dir) VREPO_RETURN_IF_ERROR(MakeDirs(parent));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno("creating folder " + dir, errno);
  }
  return Status::OK();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rng());
  FileHandle fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return Status::FromErrno(tmp, errno);
  Status st = WriteAll(fd.get(), data, path);
  if (st.ok() && ::fchmod(fd.get(), mode) != 0) st = Status::FromErrno(path, errno);
  if (st.ok() && durable && ::fsync(fd.get()) != 0)
    st = Status::FromErrno("syncing " + path, errno);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = Status::FromErrno(path, errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (durable) return SyncDir(ParentPath(path));
  return Status::OK();
}

Result<AppendFile> AppendFile::Open(const std::string& path, bool create) {
  int flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? (O_CREAT | O_EXCL) : 0);
  FileHandle fd(::open(path.c_str(), flags, 0644));
  if (!fd.valid()) return Status::FromErrno(path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(path, errno);
  return AppendFile(path, std::move(fd), static_cast<uint64_t>(st.st_size));
}

Status AppendFile::Append(std::string_view data) {
  VREPO_RETURN_IF_ERROR(WriteAll(fd_.get(), data, path_));
  size_ += data.size();
  return Status::OK();
}

Status AppendFile::Sync() {
  if (::fdatasync(fd_.get()) != 0) return Status::FromErrno("syncing " + path_, errno);
  return Status::OK();
}

Result<MappedFile> MappedFile::Open(const std::string& path) {
  FileHandle fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(path, errno);
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) return MappedFile(path, nullptr, 0);
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (addr == MAP_FAILED) return Status::FromErrno("mapping " + path, errno);
  return MappedFile(path, addr, size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), addr_(other.addr_), size_(other.size_) {
  other.addr_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (addr_) ::munmap(addr_, size_);
    path_ = std::move(other.path_);
    addr_ = other.addr_;
    size_ = other.size_;
    other.addr_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (addr_) ::munmap(addr_, size_);
}

}  // namespace vrepo
