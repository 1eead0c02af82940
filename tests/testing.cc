#include "testing.h"

#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "vrepo/util/file.h"

namespace vrepo::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/vrepo-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() { (void)RemoveTree(path_); }

void WriteFile(const std::string& path, const std::string& data, bool executable) {
  if (!MakeDirs(ParentPath(path)).ok())
    throw std::runtime_error("cannot create folders for " + path);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + path);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  ::chmod(path.c_str(), executable ? 0755 : 0644);
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListFolder(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) throw std::runtime_error("cannot list " + dir);
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(JoinPath(dir, name));
  }
  ::closedir(d);
  return out;
}

void AgeFile(const std::string& path, int seconds) {
  struct timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds;
  times[1] = times[0];
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

SmallDisk::SmallDisk(const std::string& dir, const std::string& size) : dir_(dir) {
  if (!MakeDirs(dir).ok()) throw std::runtime_error("cannot create " + dir);
  mounted_ =
      ::getuid() == 0 && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
}

SmallDisk::~SmallDisk() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
}

namespace {

std::vector<char*> Argv(const std::vector<std::string>& args, std::vector<std::string>* store) {
  store->clear();
  store->push_back(VREPO_BINARY);
  for (const auto& a : args) store->push_back(a);
  std::vector<char*> argv;
  for (auto& s : *store) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

std::string DrainFd(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace

int WaitPid(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1000;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

CommandResult RunVrepo(const std::string& cwd, const std::vector<std::string>& args,
                       const std::string& stdin_data) {
  // Output goes through temporary files so large outputs cannot deadlock a pipe.
  TempDir io;
  std::string out_path = io / "out", err_path = io / "err", in_path = io / "in";
  WriteFile(in_path, stdin_data);
  std::vector<std::string> store;
  auto argv = Argv(args, &store);
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open(in_path.c_str(), O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  CommandResult r;
  r.exit_code = WaitPid(pid);
  int fd = ::open(out_path.c_str(), O_RDONLY);
  r.out = DrainFd(fd);
  ::close(fd);
  fd = ::open(err_path.c_str(), O_RDONLY);
  r.err = DrainFd(fd);
  ::close(fd);
  return r;
}

pid_t SpawnVrepo(const std::string& cwd, const std::vector<std::string>& args,
                 const std::string& out_file, const std::string& err_file) {
  std::vector<std::string> store;
  auto argv = Argv(args, &store);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    ::dup2(::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string Shell(const std::string& cmd) {
  std::string out;
  const std::string with_identity =
      "GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.invalid GIT_COMMITTER_NAME=test "
      "GIT_COMMITTER_EMAIL=test@example.invalid " +
      cmd;
  FILE* p = ::popen(with_identity.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  REQUIRE_MESSAGE(::pclose(p) == 0, cmd);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace vrepo::testing
