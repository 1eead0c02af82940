// The repository's single-writer lock: an flock on .vrepo/lock holding the owner's pid.
// The kernel drops an flock when its process dies, so a killed writer never leaves a
// stale lock. Readers never take it.
#pragma once

#include <string>

#include "vrepo/util/file.h"
#include "vrepo/util/status.h"

namespace vrepo {

class WriteLock {
 public:
  // Takes the lock at `path`. When `wait` is false and another process holds it, returns
  // Locked naming that process's pid.
  static Result<WriteLock> Acquire(const std::string& path, bool wait);
  WriteLock(WriteLock&&) = default;
  WriteLock& operator=(WriteLock&&) = default;

 private:
  explicit WriteLock(FileHandle fd) : fd_(std::move(fd)) {}
  FileHandle fd_;
};

}  // namespace vrepo
