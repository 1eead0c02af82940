// File IO helpers over POSIX descriptors: whole-file reads, durable atomic writes,
// an append-only writer that can be synced, and read-only memory maps.
// Each object is owned by one thread at a time; the free functions are thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "vrepo/util/status.h"

namespace vrepo {

// Reads the whole file at `path`.
Result<std::string> ReadFile(const std::string& path);

// Writes `data` to `path` through a temporary file, fsync and rename, so readers see the old
// or the new contents, never a mix. `mode` is applied to the new file. Syncs the directory
// when `durable`.
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       bool durable = true);

// Writes all of `data` to `fd`, retrying short writes; errors name `path`.
Status WriteAll(int fd, std::string_view data, const std::string& path);

// fsyncs a directory so that renames and creations inside it survive a crash.
Status SyncDir(const std::string& dir);

// Creates `dir` and its parents (like mkdir -p).
Status MakeDirs(const std::string& dir);

// True when `path` is a folder (following symlinks).
bool IsDir(const std::string& path);

// Returns the parent folder of a '/'-separated path ("" when there is none).
std::string ParentPath(const std::string& path);

// Removes `path` and, if it is a folder, everything under it, without following symlinks.
// An absent path is not an error. (Not std::filesystem::remove_all: libtorch.so carries its own
// copy of std::filesystem, which the dynamic linker may bind instead, and that copy crashed on
// a GPU machine.)
Status RemoveTree(const std::string& path);

// Joins two path parts with one '/'.
std::string JoinPath(const std::string& a, const std::string& b);

// An RAII file descriptor.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(FileHandle&& other) noexcept : fd_(other.release()) {}
  FileHandle& operator=(FileHandle&& other) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Appends to a new or existing file; Sync() makes what was appended durable.
class AppendFile {
 public:
  // Opens `path` for appending, creating it when `create` (failing if it exists then).
  static Result<AppendFile> Open(const std::string& path, bool create);
  Status Append(std::string_view data);
  Status Sync();
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  AppendFile(std::string path, FileHandle fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size) {}
  std::string path_;
  FileHandle fd_;
  uint64_t size_ = 0;
};

// A read-only memory map of a whole file. Empty files map to an empty view.
class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view data() const { return {static_cast<const char*>(addr_), size_}; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, void* addr, size_t size)
      : path_(std::move(path)), addr_(addr), size_(size) {}
  std::string path_;
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vrepo
