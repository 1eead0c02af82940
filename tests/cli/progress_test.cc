// The progress bars: drawn for `vrepo add`, push, clone and fetch on a terminal, silent
// otherwise.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "cli/cli_support.h"

namespace vrepo::testing {
namespace {

// Opens a pseudo-terminal master: /dev/ptmx, or the devpts instance's own ptmx where a
// minimal container has no /dev/ptmx node. -1 when neither exists.
int OpenTerminalMaster() {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) master = ::open("/dev/pts/ptmx", O_RDWR | O_NOCTTY);
  return master;
}

// Runs vrepo with stderr on the pseudo-terminal `master` and returns what it drew there.
std::string RunWithTerminalStderr(int master, const std::string& cwd,
                                  const std::vector<std::string>& args, int* exit_code) {
  REQUIRE(::grantpt(master) == 0);
  REQUIRE(::unlockpt(master) == 0);
  std::string slave_name = ::ptsname(master);
  std::vector<std::string> store = {VREPO_BINARY};
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(master);
    int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
    int null = ::open("/dev/null", O_RDWR);
    if (slave < 0 || null < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(slave, 2);
    ::close(slave);
    ::setenv("VREPO_PROGRESS_DELAY_MS", "0", 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // Read while it runs so a full terminal buffer can never stall it; EIO means the
  // last holder of the terminal closed it.
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(master, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(master);
  *exit_code = WaitPid(pid);
  return out;
}

void MakeFiles(const std::string& root, int n) {
  for (int i = 0; i < n; ++i) {
    WriteFile(root + "/images/" + std::to_string(i % 10) + "/" + std::to_string(i) + ".png",
              RandomBytes(2048, static_cast<uint64_t>(i)));
  }
}

// A repository "a" with 200 files, its remote origin the path "hub" (not made yet).
std::string RepoWithRemote(const TempDir& t) {
  std::string a = t / "a";
  MustRun(t.path(), {"init", "a"});
  MakeFiles(a, 200);
  MustRun(a, {"add", "."});
  MustRun(a, {"commit", "-m", "files"});
  MustRun(a, {"remote", "add", "origin", t / "hub"});
  return a;
}

// Commits 50 new files in `repo` and pushes them, without a terminal.
void PushMore(const std::string& repo) {
  for (int i = 0; i < 50; ++i) {
    WriteFile(repo + "/more/" + std::to_string(i) + ".bin", RandomBytes(2048, 1000 + i));
  }
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "more"});
  MustRun(repo, {"push"});
}

// A transfer's bar: its label, a percentage, and the bytes moved with their rate.
void CheckTransferBar(const std::string& drawn, const std::string& label) {
  INFO(drawn);
  CHECK(drawn.find(label + " [") != std::string::npos);
  CHECK(drawn.find('%') != std::string::npos);
  CHECK(drawn.find(" KiB | ") != std::string::npos);
  CHECK(drawn.find("B/s") != std::string::npos);
}

}  // namespace

TEST_CASE("cli: push, clone and fetch draw transfer bars with bytes and rate on a terminal") {
  TempDir t;
  std::string a = RepoWithRemote(t);
  int master = OpenTerminalMaster();
  if (master < 0) {
    MESSAGE("skipped: this machine offers no pseudo-terminal (no /dev/ptmx)");
    return;
  }
  int code = -1;
  CheckTransferBar(RunWithTerminalStderr(master, a, {"push"}, &code), "sending objects");
  CHECK(code == 0);
  std::string clone =
      RunWithTerminalStderr(OpenTerminalMaster(), t.path(), {"clone", t / "hub", "b"}, &code);
  CHECK(code == 0);
  CheckTransferBar(clone, "receiving objects");
  PushMore(a);
  CheckTransferBar(RunWithTerminalStderr(OpenTerminalMaster(), t / "b", {"fetch"}, &code),
                   "receiving objects");
  CHECK(code == 0);
}

TEST_CASE("cli: push, clone and fetch draw nothing when stderr is not a terminal") {
  TempDir t;
  std::string a = RepoWithRemote(t);
  ::setenv("VREPO_PROGRESS_DELAY_MS", "0", 1);
  std::vector<CommandResult> runs = {RunVrepo(a, {"push"}),
                                     RunVrepo(t.path(), {"clone", t / "hub", "b"})};
  PushMore(a);
  runs.push_back(RunVrepo(t / "b", {"fetch"}));
  ::unsetenv("VREPO_PROGRESS_DELAY_MS");
  for (const CommandResult& r : runs) {
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("objects") == std::string::npos);
    CHECK(r.err.find('\r') == std::string::npos);
  }
}

TEST_CASE("cli: add draws an 'adding' progress bar when stderr is a terminal") {
  TempDir t;
  MustRun(t.path(), {"init"});
  MakeFiles(t.path(), 3000);
  int master = OpenTerminalMaster();
  if (master < 0) {
    MESSAGE("skipped: this machine offers no pseudo-terminal (no /dev/ptmx)");
    return;
  }
  int code = -1;
  std::string drawn = RunWithTerminalStderr(master, t.path(), {"add", "."}, &code);
  CHECK(code == 0);
  INFO(drawn);
  CHECK(drawn.find("adding") != std::string::npos);
  CHECK(drawn.find('%') != std::string::npos);
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out.find("?? ") == std::string::npos);
}

TEST_CASE("cli: nothing is drawn when stderr is not a terminal") {
  TempDir t;
  MustRun(t.path(), {"init"});
  MakeFiles(t.path(), 3000);
  ::setenv("VREPO_PROGRESS_DELAY_MS", "0", 1);
  CommandResult r = RunVrepo(t.path(), {"add", "."});
  ::unsetenv("VREPO_PROGRESS_DELAY_MS");
  CHECK(r.exit_code == 0);
  CHECK(r.err == "");
  CHECK(r.out == "");
}

}  // namespace vrepo::testing
