// Fixtures for the HTTP remote tests: a real `vrepo serve` child process on 127.0.0.1 whose
// stderr log the test can wait on, a server root with tokens, a source repository, and small
// helpers around them.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "must.h"
#include "testing.h"
#include "vrepo/remote/sync.h"
#include "vrepo/remote/transport.h"
#include "vrepo/repo/repository.h"
#include "vrepo/worktree/worktree.h"
#include "worktree/worktree_fixture.h"

namespace vrepo::testing {

// A write to a connection the other side closed must be an error, not the end of the tests.
inline const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

class ServeProcess {
 public:
  // Runs `vrepo serve --root ROOT --listen 127.0.0.1:PORT EXTRA...` and waits (10 s at most)
  // for its "listening on" line. started() is false when it exited instead.
  ServeProcess(const std::string& root, const std::vector<std::string>& extra, int port = 0) {
    std::vector<std::string> args = {VREPO_BINARY, "serve",    "--root",
                                     root,         "--listen", "127.0.0.1:" + std::to_string(port)};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // A test process that dies (a timeout, a crash) takes its server with it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    err_fd_ = err[0];
    reader_ = std::thread([this] { ReadLog(); });

    std::string first;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (first.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out[0], buf, sizeof(buf));
      if (n <= 0) break;
      first.append(buf, n);
    }
    ::close(out[0]);
    constexpr std::string_view kPrefix = "listening on ";
    if (first.rfind(kPrefix, 0) == 0) {
      base_url_ = first.substr(kPrefix.size(), first.find('\n') - kPrefix.size());
      port_ = std::stoi(base_url_.substr(base_url_.rfind(':') + 1));
    }
  }

  ~ServeProcess() {
    Stop(SIGTERM);
    if (reader_.joinable()) reader_.join();
    ::close(err_fd_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  bool started() const { return port_ > 0; }
  int port() const { return port_; }
  // "http://127.0.0.1:PORT/NAME" (https when it serves TLS).
  std::string Url(const std::string& name) const { return base_url_ + "/" + name; }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the process; returns its exit code or -signal.
  int Stop(int signal) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, signal);
    exit_code_ = WaitPid(pid_);
    pid_ = -1;
    return exit_code_;
  }

  // Waits until the log holds `needle` `count` times; false after `timeout`.
  bool WaitForLog(const std::string& needle, int count = 1,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return Count(needle) >= count || log_done_; }) &&
           Count(needle) >= count;
  }
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  // The server's peak resident memory in KiB (VmHWM), 0 when it is gone.
  long PeakRssKiB() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0;
  }

 private:
  void ReadLog() {
    char buf[4096];
    while (true) {
      ssize_t n = ::read(err_fd_, buf, sizeof(buf));
      if (n <= 0) break;
      std::lock_guard<std::mutex> lock(mu_);
      log_.append(buf, n);
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    log_done_ = true;
    cv_.notify_all();
  }
  int Count(const std::string& needle) const {
    int n = 0;
    for (size_t pos = log_.find(needle); pos != std::string::npos;
         pos = log_.find(needle, pos + 1)) {
      ++n;
    }
    return n;
  }

  pid_t pid_ = -1;
  int exit_code_ = -1;
  int err_fd_ = -1;
  int port_ = 0;
  std::string base_url_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool log_done_ = false;
};

inline constexpr const char* kWriter = "s3cret-writer-token";
inline constexpr const char* kReader = "s3cret-reader-token";

// A server root with a tokens file: kWriter may write everything, kReader may read "team/*",
// anyone may read "public/*".
struct ServeRoot {
  TempDir dir;
  std::string root = dir / "root";
  std::string tokens = dir / "tokens";
  ServeRoot() {
    std::filesystem::create_directories(root);
    WriteFile(tokens, std::string("# test grants\n") + kWriter + " rw *\n" + kReader +
                          " r team/*   # readers\n" + "anonymous r public/*\n");
  }
  std::unique_ptr<ServeProcess> Start(std::vector<std::string> extra = {}, int port = 0) {
    extra.insert(extra.begin(), {"--tokens", tokens});
    auto server = std::make_unique<ServeProcess>(root, extra, port);
    REQUIRE(server->started());
    return server;
  }
};

// A repository with `files` files of `size` pseudo-random bytes in two commits and a tag.
struct SourceRepo : RepoFixture {
  explicit SourceRepo(int files = 30, size_t size = 200) {
    for (int i = 0; i < files / 2; ++i) {
      Write("images/a/" + std::to_string(i) + ".bin", RandomBytes(size + i, i));
    }
    CommitAll("first half");
    for (int i = files / 2; i < files; ++i) {
      Write("images/b/" + std::to_string(i) + ".bin", RandomBytes(size + i, i));
    }
    Write("labels.csv", "path,label\nimages/a/0.bin,cat\n");
    CommitAll("second half");
    Must(repo->history().CreateTag("v1", Must(repo->history().ResolveCommit("HEAD")), "", false));
  }
};

inline std::unique_ptr<Transport> Open(const std::string& url, const std::string& token = "",
                                       const std::string& ca_file = "") {
  TransportOptions options;
  options.token = token;
  options.ca_file = ca_file;
  return Must(OpenTransport(url, options));
}

inline Result<SyncReport> PushTo(Repository& repo, const std::string& url, const std::string& token,
                                 int jobs = 4, std::vector<std::string> branches = {}) {
  TransportOptions transport;
  transport.token = token;
  auto remote = OpenTransport(url, transport);
  if (!remote.ok()) return remote.status();
  PushOptions options;
  options.jobs = jobs;
  options.tags = true;
  options.branches = branches.empty() ? std::vector<std::string>{"main"} : std::move(branches);
  return Push(repo, **remote, "origin", options);
}

inline Result<SyncReport> CloneFrom(const std::string& url, const std::string& dir,
                                    const std::string& token, const std::string& ca_file = "") {
  CloneOptions options;
  options.transport.token = token;
  options.transport.ca_file = ca_file;
  return Clone(url, dir, options);
}

inline std::unique_ptr<Repository> OpenAt(const std::string& path, bool write) {
  OpenOptions options;
  options.read_only = !write;
  options.wait_for_lock = true;
  return Must(Repository::Discover(path, options));
}

inline void CheckFsckClean(const std::string& path) {
  auto repo = OpenAt(path, false);
  FsckReport report = Must(Fsck(*repo));
  std::string problems;
  for (const auto& p : report.problems) problems += p + "\n";
  INFO("fsck of " << path << ":\n" << problems);
  CHECK(report.problems.empty());
  CHECK(report.objects_checked > 0);
}

inline std::string Head(const std::string& path, const std::string& rev) {
  return Must(OpenAt(path, false)->history().ResolveCommit(rev));
}

// A raw HTTP request to the server, bypassing the vrepo client.
inline httplib::Result Raw(int port, const std::string& method, const std::string& target,
                           const std::string& body = "", const std::string& token = kWriter) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", std::string("Bearer ") + token);
  if (method == "GET") return client.Get(target, headers);
  return client.Post(target, headers, body, "application/octet-stream");
}

}  // namespace vrepo::testing
