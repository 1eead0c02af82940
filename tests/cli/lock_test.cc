// One writer at a time: a second writer fails naming the holder, or waits with --wait;
// readers never block.
#include "vrepo/util/lock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli/cli_support.h"

namespace vrepo::testing {

TEST_CASE("cli: a held writer lock fails writers with the holder's pid, never readers") {
  TempDir t;
  const std::string repo = t.path();
  MustRun(repo, {"init"});
  WriteFile(t / "base.txt", "base");
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "base"});
  WriteFile(t / "x", "x");

  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t holder = ::fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {
    ::close(ready[0]);
    auto lock = WriteLock::Acquire(repo + "/.vrepo/lock", /*wait=*/false);
    char c = lock.ok() ? '1' : '0';
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    ::sleep(30);  // killed by the parent long before
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::close(ready[0]);
  REQUIRE(c == '1');

  CommandResult add = RunVrepo(repo, {"add", "x"});
  CHECK(add.exit_code == 128);
  CHECK(Lines(add.err).size() == 1);
  CHECK(add.err.rfind("vrepo: add: ", 0) == 0);
  CHECK(add.err.find(std::to_string(holder)) != std::string::npos);
  CHECK(add.err.find("--wait") != std::string::npos);

  // Readers open read-only and are not blocked.
  CHECK(MustRun(repo, {"status", "--porcelain"}).out == "?? x\n");
  CHECK(MustRun(repo, {"log", "--oneline"}).out.find(" base\n") == 7);
  MustRun(repo, {"fsck"});

  pid_t waiter = SpawnVrepo(repo, {"--wait", "add", "x"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int status = 0;
  CHECK(::waitpid(waiter, &status, WNOHANG) == 0);  // still waiting for the lock
  ::kill(holder, SIGKILL);
  CHECK(WaitPid(holder) == -SIGKILL);
  CHECK(WaitPid(waiter) == 0);
  CHECK(MustRun(repo, {"status", "--porcelain"}).out == "A  x\n");
}

}  // namespace vrepo::testing
