#include "vrepo/util/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace vrepo {

Result<WriteLock> WriteLock::Acquire(const std::string& path, bool wait) {
  FileHandle fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno(path, errno);
  int op = LOCK_EX | (wait ? 0 : LOCK_NB);
  while (::flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      char buf[32] = {0};
      ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
      std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return Status::Locked("repository is locked by another vrepo process (pid " + pid +
                            "): " + path + " [wait for it, or retry with --wait]");
    }
    return Status::FromErrno("locking " + path, errno);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return Status::FromErrno("writing " + path, errno);
  }
  return WriteLock(std::move(fd));
}

}  // namespace vrepo
