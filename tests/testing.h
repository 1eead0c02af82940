// Test fixtures shared by every layer's tests: temporary folders, file helpers, and running
// the real `vrepo` binary as a child process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vrepo::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with everything inside on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Writes `data` to `path`, creating parent folders; aborts the test on failure.
void WriteFile(const std::string& path, const std::string& data, bool executable = false);
std::string ReadFileOrDie(const std::string& path);
bool Exists(const std::string& path);
// The paths of the entries of folder `dir` (not . and ..), in no particular order. Written
// with readdir, not std::filesystem: test binaries linked with a pip libtorch bound
// std::filesystem calls to libtorch's own copy, which crashed.
std::vector<std::string> ListFolder(const std::string& dir);
// Sets a file's mtime `seconds` into the past (so the stat cache does not see it as racy).
void AgeFile(const std::string& path, int seconds);
// Deterministic pseudo-random bytes.
std::string RandomBytes(size_t n, uint64_t seed);

// A tmpfs of `size` (e.g. "4m") mounted at `dir` for the object's lifetime, so a test can
// fill a disk for real. mounted() is false where mounting is not allowed (not root).
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, const std::string& size);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

struct CommandResult {
  int exit_code = -1;  // -signal when killed by a signal
  std::string out;
  std::string err;
};
// Runs the vrepo binary with `args` in `cwd`, capturing stdout and stderr.
CommandResult RunVrepo(const std::string& cwd, const std::vector<std::string>& args,
                       const std::string& stdin_data = "");
// Starts the vrepo binary without waiting; returns its pid. Output goes to the files named
// (absolute paths), /dev/null by default.
pid_t SpawnVrepo(const std::string& cwd, const std::vector<std::string>& args,
                 const std::string& out_file = "/dev/null",
                 const std::string& err_file = "/dev/null");
// Waits for `pid`; returns its exit code, or -signal.
int WaitPid(pid_t pid);

// Runs `cmd` (git plumbing, mostly) with sh and returns its stdout without trailing
// newlines; fails the test unless it exits 0. git's commit-tree needs an identity, which a
// fresh machine has none of: the command carries its own.
std::string Shell(const std::string& cmd);

}  // namespace vrepo::testing
