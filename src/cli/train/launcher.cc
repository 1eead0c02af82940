#include "launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "cli.h"
#include "train_cli.h"

extern char** environ;

namespace vrepo::cli {
namespace {

std::vector<std::string> g_command_line;
std::string g_start_folder;

// How long the other ranks get to stop on their own after one failed, before they are killed:
// enough for rank 0 to say which rank fell behind.
constexpr auto kStopGrace = std::chrono::seconds(2);

Result<int> EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < 0 || n > INT_MAX) {
    return Status::InvalidArgument(std::string("environment variable ") + name + "='" + v +
                                   "' is not a whole number");
  }
  return static_cast<int>(n);
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return std::to_string(sig) + (abbrev ? std::string(" (") + abbrev + ")" : "");
}

}  // namespace

void RememberCommandLine(int argc, char** argv) {
  g_command_line.assign(argv, argv + argc);
  std::vector<char> buf(PATH_MAX);
  if (::getcwd(buf.data(), buf.size()) != nullptr) g_start_folder = buf.data();
}

Result<std::optional<train::DistributedOptions>> RankFromEnvironment(const std::string& backend,
                                                                     int timeout_seconds) {
  if (std::getenv("RANK") == nullptr || std::getenv("WORLD_SIZE") == nullptr) {
    return std::optional<train::DistributedOptions>();
  }
  train::DistributedOptions o;
  VREPO_ASSIGN_OR_RETURN(o.rank, EnvInt("RANK", 0));
  VREPO_ASSIGN_OR_RETURN(o.world_size, EnvInt("WORLD_SIZE", 1));
  VREPO_ASSIGN_OR_RETURN(o.local_rank, EnvInt("LOCAL_RANK", o.rank));
  VREPO_ASSIGN_OR_RETURN(o.local_world_size, EnvInt("LOCAL_WORLD_SIZE", o.world_size));
  VREPO_ASSIGN_OR_RETURN(o.master_port, EnvInt("MASTER_PORT", 29500));
  VREPO_ASSIGN_OR_RETURN(o.attempt, EnvInt("TORCHELASTIC_RESTART_COUNT", 0));
  if (o.world_size < 1 || o.rank >= o.world_size) {
    return Status::InvalidArgument("environment variable RANK=" + std::to_string(o.rank) +
                                   " is outside WORLD_SIZE=" + std::to_string(o.world_size));
  }
  if (o.master_port < 1 || o.master_port > 65535) {
    return Status::InvalidArgument(
        "environment variable MASTER_PORT=" + std::to_string(o.master_port) + " is not a port");
  }
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') {
    o.master_addr = addr;
  }
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  o.agent_store = agent != nullptr && std::string(agent) == "True";
  o.backend = backend;
  o.timeout = std::chrono::seconds(timeout_seconds);
  return std::optional<train::DistributedOptions>(o);
}

std::unique_ptr<train::RankGroup> JoinJob(const std::string& command,
                                          const train::DistributedOptions& rank, int* exit_code) {
  auto group = train::RankGroup::Join(rank);
  if (!group.ok()) {
    *exit_code = Fail(command, group.status());
    return nullptr;
  }
  return std::move(group).value();
}

Status InRank(const train::RankGroup* group, const Status& status) {
  if (group == nullptr || status.ok() || status.message().rfind("rank ", 0) == 0) return status;
  return status.WithContext("rank " + std::to_string(group->rank()) + " of " +
                            std::to_string(group->world_size()));
}

int LaunchLocalRanks(const std::string& command, int nproc, int timeout_seconds) {
  auto host = train::StoreHost::Start(0, nproc, std::chrono::seconds(timeout_seconds));
  if (!host.ok()) return Fail(command, host.status());
  const int port = (*host)->port();

  // Signals wait here, in sigtimedwait, and not in handlers; the ranks start with none
  // blocked. Their own process group keeps the terminal's Ctrl-C from reaching them twice.
  sigset_t watched;
  sigemptyset(&watched);
  for (int sig : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&watched, sig);
  sigset_t previous;
  sigprocmask(SIG_BLOCK, &watched, &previous);

  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string threads = std::to_string(std::max(1u, cores / static_cast<unsigned>(nproc)));
  std::map<pid_t, int> ranks;  // pid -> rank
  pid_t group = 0;
  std::string failure;
  auto kill_all = [&](int sig) {
    if (group != 0) ::kill(-group, sig);
  };
  for (int r = 0; r < nproc; ++r) {
    std::map<std::string, std::string> set = {
        {"RANK", std::to_string(r)},
        {"LOCAL_RANK", std::to_string(r)},
        {"WORLD_SIZE", std::to_string(nproc)},
        {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
        {"GROUP_RANK", "0"},
        {"MASTER_ADDR", "127.0.0.1"},
        {"MASTER_PORT", std::to_string(port)},
        {"TORCHELASTIC_USE_AGENT_STORE", "True"},
        {"TORCHELASTIC_RESTART_COUNT", "0"},
    };
    // The host's cores shared between its ranks, as torchrun does (it sets 1).
    if (std::getenv("OMP_NUM_THREADS") == nullptr) set["OMP_NUM_THREADS"] = threads;
    // c10d also logs what it throws (through glog, to stderr); the rank reports the error
    // itself, in one line.
    if (std::getenv("GLOG_minloglevel") == nullptr) set["GLOG_minloglevel"] = "3";
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      if (set.count(entry.substr(0, entry.find('='))) == 0) env.push_back(entry);
    }
    for (const auto& [k, v] : set) env.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = g_command_line;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, group);  // 0: the first rank leads a new group
    posix_spawnattr_setsigmask(&attr, &previous);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, g_start_folder.c_str());
    // One record, one --json document: only rank 0 speaks on stdout; every rank's errors
    // reach stderr.
    if (r > 0) posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    std::fflush(stdout);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      failure = "cannot start rank " + std::to_string(r) + ": " + std::strerror(rc);
      break;
    }
    if (group == 0) group = pid;
    ranks[pid] = r;
  }
  if (!failure.empty()) kill_all(SIGKILL);

  int rank0_code = kExitFatal;
  bool interrupted = false;
  std::chrono::steady_clock::time_point kill_at = std::chrono::steady_clock::time_point::max();
  while (!ranks.empty()) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0 && ranks.count(pid) > 0) {
      const int r = ranks[pid];
      ranks.erase(pid);
      const bool exited = WIFEXITED(status);
      const int code = exited ? WEXITSTATUS(status) : -1;
      if (r == 0 && exited) rank0_code = code;
      const bool fine = exited && (code == kExitOk || code == kExitInterrupted);
      if (!fine && failure.empty()) {
        failure = exited
                      ? "rank " + std::to_string(r) + " exited with status " + std::to_string(code)
                      : "rank " + std::to_string(r) + " was killed by signal " +
                            SignalName(WTERMSIG(status));
        kill_at = std::chrono::steady_clock::now() + kStopGrace;
      }
      continue;
    }
    if (std::chrono::steady_clock::now() >= kill_at) {
      kill_all(SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    timespec wait = {0, 100'000'000};
    int sig = sigtimedwait(&watched, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) {
      // The first asks every rank to stop after the same batch; a second kills them.
      kill_all(interrupted ? SIGKILL : SIGINT);
      interrupted = true;
    }
  }
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (!failure.empty()) {
    return FailWith(
        command,
        failure + "; the job stopped" +
            (rank0_code == kExitOk || rank0_code == kExitInterrupted ? ""
                                                                     : " and recorded nothing"),
        kExitFatal);
  }
  return rank0_code;
}

}  // namespace vrepo::cli
