#include "vrepo/runs/command_run.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "vrepo/dataset/dataset.h"
#include "vrepo/history/tree_name.h"
#include "vrepo/repo/code_revision.h"
#include "vrepo/runs/run_commit.h"
#include "vrepo/util/file.h"
#include "vrepo/util/text.h"
#include "vrepo/util/thread_pool.h"

extern char** environ;

namespace vrepo::runs {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Cached files get this modification time when written, so a later run sees at once whether
// someone wrote into one through a link (root ignores the 0444 mode): it then has another.
constexpr time_t kCachedFileMtime = 1;
// How long the interpreter may take to say its versions.
constexpr auto kProbeTimeout = std::chrono::seconds(10);
// Variables of vrepo's own environment worth keeping in the record when set: they change what
// a training script computes or where.
constexpr const char* kRecordedVariables[] = {
    "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",      "PYTHONHASHSEED",          "PYTHONPATH",
};

std::atomic<uint64_t> g_command_run_counter{0};

std::string RunIsoTimeUtc(std::chrono::system_clock::time_point t) {
  const time_t secs = std::chrono::system_clock::to_time_t(t);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string RunHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// The first NVIDIA GPU's model as its driver names it, without loading CUDA; "cpu" without one.
std::string RunDeviceName() {
  const std::string root = "/proc/driver/nvidia/gpus";
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return "cpu";
  std::vector<std::string> gpus;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') gpus.push_back(e->d_name);
  }
  ::closedir(d);
  std::sort(gpus.begin(), gpus.end());
  for (const std::string& gpu : gpus) {
    auto text = ReadFile(JoinPath(JoinPath(root, gpu), "information"));
    if (!text.ok()) continue;
    for (std::string_view line : SplitLines(*text)) {
      if (!line.starts_with("Model:")) continue;
      line.remove_prefix(6);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      return std::string(line);
    }
  }
  return "cpu";
}

// argv as posix_spawn takes it; the strings must outlive the call.
std::vector<char*> RunArgv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

bool LooksLikePython(const std::string& argv0) {
  const std::string base = argv0.substr(argv0.rfind('/') + 1);
  if (!base.starts_with("python")) return false;
  return std::all_of(base.begin() + 6, base.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

// Asks the interpreter `python` for its version and torch's and CUDA's (null when absent or
// when it does not answer in time). Never fails: the versions are information.
json ProbePython(const std::string& python, const std::string& cwd) {
  json out = {{"python", nullptr}, {"torch", nullptr}, {"cuda", nullptr}};
  // torch's versions come from its version.py, read rather than imported: importing torch
  // costs seconds, each run and each reproduction.
  static const char* kProbe =
      "import importlib.util, json, os, re, sys\n"
      "r = {'python': sys.version.split()[0], 'torch': None, 'cuda': None}\n"
      "try:\n"
      "    spec = importlib.util.find_spec('torch')\n"
      "    where = list(spec.submodule_search_locations or []) if spec else []\n"
      "    text = open(os.path.join(where[0], 'version.py')).read() if where else ''\n"
      "    for key, name in (('torch', '__version__'), ('cuda', 'cuda')):\n"
      "        m = re.search('^' + name + r\"\\s*(?::[^=]*)?=\\s*'([^']*)'\", text, re.M)\n"
      "        r[key] = m.group(1) if m else None\n"
      "except Exception:\n"
      "    pass\n"
      "print(json.dumps(r))\n";
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return out;
  FileHandle read_end(fds[0]), write_end(fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<std::string> args = {python, "-c", kProbe};
  std::vector<char*> argv = RunArgv(args);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end = FileHandle();
  if (rc != 0) return out;
  std::string text;
  const auto deadline = Clock::now() + kProbeTimeout;
  bool done = false;
  while (!done && Clock::now() < deadline) {
    pollfd p = {read_end.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(read_end.get(), buf, sizeof(buf));
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      done = true;
    }
  }
  if (!done) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return out;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return out;
  for (const char* key : {"python", "torch", "cuda"}) {
    if (parsed.contains(key) && parsed[key].is_string()) out[key] = parsed[key];
  }
  return out;
}

// The folder a relative path names, from `cwd`.
std::string RunAbsolute(const std::string& cwd, const std::string& path) {
  return !path.empty() && path[0] == '/' ? path : JoinPath(cwd, path);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Where the code that runs lives: the first argument after the program that is an existing
// file (the script), else the program when given as a path, else the working folder.
std::string ScriptPath(const std::vector<std::string>& command, const std::string& cwd) {
  for (size_t i = 1; i < command.size(); ++i) {
    if (!command[i].empty() && command[i][0] != '-' &&
        IsRegularFile(RunAbsolute(cwd, command[i]))) {
      return RunAbsolute(cwd, command[i]);
    }
  }
  if (!command.empty() && command[0].find('/') != std::string::npos &&
      IsRegularFile(RunAbsolute(cwd, command[0]))) {
    return RunAbsolute(cwd, command[0]);
  }
  return cwd;
}

Result<json> CodeJson(const std::vector<std::string>& command, const std::string& cwd) {
  std::string path = ScriptPath(command, cwd);
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr) path = resolved;
  VREPO_ASSIGN_OR_RETURN(std::optional<CodeRevision> code, FindCodeRevision(path));
  if (!code) return json{{"path", nullptr}, {"revision", nullptr}, {"dirty", false}};
  return json{{"path", code->work_dir},
              {"revision", code->revision.empty() ? json() : json(code->revision)},
              {"dirty", code->dirty}};
}

// ---- The read-only data folder -------------------------------------------------------------

// The cached copy of one stored file: written once, read-only, shared by every run's links.
Result<std::string> CachedObject(const ObjectStore& store, const std::string& cache_dir,
                                 const FileEntry& f) {
  const std::string hex = f.id.Hex();
  const std::string dir = JoinPath(cache_dir, hex.substr(0, 2));
  const std::string path = JoinPath(dir, hex);
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) == f.size && st.st_mtim.tv_sec == kCachedFileMtime &&
      st.st_mtim.tv_nsec == 0) {
    return path;
  }
  VREPO_RETURN_IF_ERROR(MakeDirs(dir));
  const std::string tmp =
      path + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(g_command_run_counter++);
  FileHandle fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!fd.valid()) return Status::FromErrno(tmp, errno);
  Status s = store.WriteTo(f.id, fd.get(), f.path);
  const timespec times[2] = {{kCachedFileMtime, 0}, {kCachedFileMtime, 0}};
  if (s.ok() && ::fchmod(fd.get(), 0444) != 0) s = Status::FromErrno(tmp, errno);
  if (s.ok() && ::futimens(fd.get(), times) != 0) s = Status::FromErrno(tmp, errno);
  if (s.ok() && ::close(fd.release()) != 0) s = Status::FromErrno("closing " + tmp, errno);
  // A replaced entry (written into through a link) keeps its inode in the runs that link it.
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::FromErrno("renaming " + tmp + " to " + path, errno);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return path;
}

// A hard link to the cached copy; a copy where links cannot be made (another filesystem, a
// file system without them, too many links).
Status LinkOrCopy(const ObjectStore& store, const std::string& cached, const std::string& target,
                  const FileEntry& f) {
  if (::link(cached.c_str(), target.c_str()) == 0) return Status::OK();
  if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP) {
    return Status::FromErrno("linking " + target + " to " + cached, errno);
  }
  FileHandle fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!fd.valid()) return Status::FromErrno(target, errno);
  return store.WriteTo(f.id, fd.get(), target);
}

// Folders under `root` become 0555 (`writable` false) or 0755 again, deepest last or first.
void SetFolderModes(const std::string& root, bool writable) {
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return;
  if (writable) ::chmod(root.c_str(), 0755);
  std::vector<std::string> subdirs;
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    const std::string path = JoinPath(root, e->d_name);
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) subdirs.push_back(path);
  }
  ::closedir(d);
  for (const std::string& sub : subdirs) SetFolderModes(sub, writable);
  if (!writable) ::chmod(root.c_str(), 0555);
}

// Removes a run's scratch folder, read-only parts included.
void RemoveRunFolder(const std::string& dir) {
  SetFolderModes(dir, /*writable=*/true);
  (void)RemoveTree(dir);
}

// The commit's files as a read-only folder at `data_dir`: links into the cache at `cache_dir`.
Status MaterializeData(Repository& repo, const std::vector<FileEntry>& files,
                       const std::string& cache_dir, const std::string& data_dir) {
  for (const FileEntry& f : files) {
    size_t start = 0;
    while (start <= f.path.size()) {
      size_t slash = f.path.find('/', start);
      if (slash == std::string::npos) slash = f.path.size();
      const std::string reason =
          UnsafeNameReason(std::string_view(f.path).substr(start, slash - start));
      if (!reason.empty()) {
        return Status::Corruption("the dataset commit names " + QuoteName(f.path) + ": " + reason);
      }
      start = slash + 1;
    }
  }
  // A lazy clone gets every absent object in one fetch first, as checkout does.
  if (repo.store().source() != nullptr) {
    std::vector<ContentId> ids;
    for (const FileEntry& f : files) ids.push_back(f.id);
    VREPO_RETURN_IF_ERROR(repo.store().Prefetch(ids).status());
  }
  VREPO_RETURN_IF_ERROR(MakeDirs(data_dir));
  std::set<std::string> dirs;
  for (const FileEntry& f : files) {
    for (std::string dir = ParentPath(f.path); !dir.empty(); dir = ParentPath(dir)) {
      if (!dirs.insert(dir).second) break;
    }
  }
  for (const std::string& dir : dirs) VREPO_RETURN_IF_ERROR(MakeDirs(JoinPath(data_dir, dir)));
  const ObjectStore& store = repo.store();
  ThreadPool pool(DefaultIoThreads());
  VREPO_RETURN_IF_ERROR(pool.TryParallelFor(files.size(), [&](size_t i) -> Status {
    const FileEntry& f = files[i];
    VREPO_ASSIGN_OR_RETURN(std::string cached, CachedObject(store, cache_dir, f));
    return LinkOrCopy(store, cached, JoinPath(data_dir, f.path), f);
  }));
  SetFolderModes(data_dir, /*writable=*/false);
  return Status::OK();
}

// Files of the data folder whose contents changed while the command ran (a root process can
// write through the 0444 mode): their cached copies are dropped so no later run reads them.
std::vector<std::string> DropWrittenData(const std::vector<FileEntry>& files,
                                         const std::string& cache_dir,
                                         const std::string& data_dir) {
  std::vector<std::string> changed;
  for (const FileEntry& f : files) {
    struct stat st;
    const std::string path = JoinPath(data_dir, f.path);
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) != f.size || st.st_mtim.tv_sec != kCachedFileMtime) {
      changed.push_back(f.path);
      const std::string hex = f.id.Hex();
      ::unlink(JoinPath(JoinPath(cache_dir, hex.substr(0, 2)), hex).c_str());
    }
  }
  return changed;
}

// ---- Running the command -------------------------------------------------------------------

struct ChildEnd {
  CommandStatus status = CommandStatus::kFailed;
  std::optional<int> exit_code, signal;
};

// SIGINT and SIGTERM while a command runs: counted by a handler, whichever thread gets them
// (the store's and libtorch's threads do not block them), and passed on by the waiting loop.
std::atomic<int> g_command_interrupts{0};
std::atomic<int> g_command_last_signal{0};

void OnCommandInterrupt(int sig) {
  g_command_last_signal.store(sig);
  g_command_interrupts.fetch_add(1);
}

// Runs `args` in `cwd` with `env`, in its own process group (so that a terminal's Ctrl-C
// reaches it once, through us), and waits for it.
Result<ChildEnd> SpawnAndWait(std::vector<std::string> args, std::vector<std::string> env,
                              const std::string& cwd, bool stdout_to_stderr) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  if (stdout_to_stderr) posix_spawn_file_actions_adddup2(&actions, 2, 1);
  std::vector<char*> argv = RunArgv(args);
  std::vector<char*> envp = RunArgv(env);

  g_command_interrupts.store(0);
  struct sigaction on_interrupt {};
  on_interrupt.sa_handler = OnCommandInterrupt;
  sigemptyset(&on_interrupt.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &on_interrupt, &old_int);
  sigaction(SIGTERM, &on_interrupt, &old_term);
  auto restore = [&] {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  };

  std::fflush(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0].c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    restore();
    return Status::InvalidArgument("cannot run " + QuoteName(args[0]) + ": " + std::strerror(rc));
  }

  int forwarded = 0;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      restore();
      return Status::FromErrno("waiting for " + QuoteName(args[0]), errno);
    }
    if (g_command_interrupts.load() > forwarded) {
      // The first asks the command to stop; a second kills it.
      ::kill(-pid, forwarded == 0 ? g_command_last_signal.load() : SIGKILL);
      forwarded = g_command_interrupts.load();
      continue;
    }
    timespec wait = {0, 50'000'000};
    ::nanosleep(&wait, nullptr);
  }
  restore();
  ChildEnd end;
  if (WIFEXITED(status)) end.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) end.signal = WTERMSIG(status);
  end.status = forwarded > 0                          ? CommandStatus::kInterrupted
               : end.exit_code && *end.exit_code == 0 ? CommandStatus::kCompleted
                                                      : CommandStatus::kFailed;
  return end;
}

// ---- Outputs and metrics -------------------------------------------------------------------

// Regular files under `dir`, as '/'-separated paths, sorted. Symlinks and special files are
// skipped with a warning (never followed), as are names a tree cannot hold.
Status ListOutputs(const std::string& dir, const std::string& prefix,
                   std::vector<std::string>* files, std::vector<std::string>* warnings) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(dir, errno);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.push_back(e->d_name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = JoinPath(dir, name);
    const std::string rel = prefix.empty() ? name : prefix + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(path, errno);
    const std::string reason = UnsafeNameReason(name);
    if (!reason.empty()) {
      warnings->push_back("output " + QuoteName(rel) + " skipped: " + reason);
    } else if (S_ISDIR(st.st_mode)) {
      VREPO_RETURN_IF_ERROR(ListOutputs(path, rel, files, warnings));
    } else if (S_ISREG(st.st_mode)) {
      files->push_back(rel);
    } else {
      warnings->push_back("output " + QuoteName(rel) + " skipped: " +
                          (S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file"));
    }
  }
  return Status::OK();
}

// The metrics file's valid lines (JSON objects), each as one compact line; a malformed line
// is skipped with a warning naming it.
std::vector<json> ReadMetricsLines(std::string_view text, const std::string& where,
                                   std::vector<std::string>* warnings) {
  std::vector<json> lines;
  uint64_t number = 0;
  for (std::string_view line : SplitLines(text)) {
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string at = where + " line " + std::to_string(number);
    if (JsonNestingPastLimit(line, 16) != std::string_view::npos) {
      warnings->push_back(at + ": nests deeper than 16 levels; skipped");
      continue;
    }
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      warnings->push_back(at + ": not valid JSON; skipped");
    } else if (!parsed.is_object()) {
      warnings->push_back(at + ": not a JSON object; skipped");
    } else {
      lines.push_back(std::move(parsed));
    }
  }
  return lines;
}

// ---- One execution on a commit, shared by a run and its reproduction ------------------------

struct Execution {
  ChildEnd end;
  std::string started;
  double seconds = 0;
  std::string output_dir;
  std::vector<std::string> output_files;  // relative to output_dir
  std::vector<json> metrics;
  json variables;
  std::vector<std::string> warnings;
};

struct ExecutionPlan {
  std::vector<std::string> command;
  std::string cwd;
  std::string commit;
  std::string name;        // VREPO_RUN_NAME
  std::string output_dir;  // "" : one under the run folder
  std::string run_dir;     // scratch: data/, metrics.jsonl, output/
  bool stdout_to_stderr = false;
};

Result<Execution> Execute(Repository& repo, const ExecutionPlan& plan) {
  Execution ex;
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, repo.history().ReadTree(plan.commit));
  const std::string cache_dir = JoinPath(repo.vrepo_dir(), "cache/objects");
  const std::string data_dir = JoinPath(plan.run_dir, "data");
  const std::string metrics_path = JoinPath(plan.run_dir, "metrics.jsonl");
  ex.output_dir = plan.output_dir.empty() ? JoinPath(plan.run_dir, "output") : plan.output_dir;
  VREPO_RETURN_IF_ERROR(MakeDirs(ex.output_dir));
  VREPO_RETURN_IF_ERROR(MaterializeData(repo, files, cache_dir, data_dir));
  VREPO_RETURN_IF_ERROR(WriteFileAtomic(metrics_path, "", 0644, /*durable=*/false));

  std::map<std::string, std::string> set = {
      {"VREPO_DATA", data_dir},        {"VREPO_OUTPUT", ex.output_dir},
      {"VREPO_METRICS", metrics_path}, {"VREPO_RUN_NAME", plan.name},
      {"VREPO_COMMIT", plan.commit},
  };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    if (set.count(entry.substr(0, entry.find('='))) == 0) env.push_back(entry);
  }
  ex.variables = json::object();
  for (const auto& [k, v] : set) {
    env.push_back(k + "=" + v);
    ex.variables[k] = v;
  }
  for (const char* name : kRecordedVariables) {
    if (const char* v = std::getenv(name)) ex.variables[name] = v;
  }

  const auto wall_start = std::chrono::system_clock::now();
  const auto start = Clock::now();
  ex.started = RunIsoTimeUtc(wall_start);
  Result<ChildEnd> end = SpawnAndWait(plan.command, env, plan.cwd, plan.stdout_to_stderr);
  ex.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (const std::string& path : DropWrittenData(files, cache_dir, data_dir)) {
    ex.warnings.push_back("the command changed VREPO_DATA/" + path +
                          " (its cached copy is dropped)");
  }
  RemoveRunFolder(data_dir);
  if (!end.ok()) return end.status();
  ex.end = *end;

  VREPO_RETURN_IF_ERROR(ListOutputs(ex.output_dir, "", &ex.output_files, &ex.warnings));
  VREPO_ASSIGN_OR_RETURN(std::string metrics_text, ReadFile(metrics_path));
  ex.metrics = ReadMetricsLines(metrics_text, "VREPO_METRICS (metrics.jsonl)", &ex.warnings);
  return ex;
}

// A fresh scratch folder for one execution under .vrepo/cache/runs/.
Result<std::string> NewRunFolder(const Repository& repo) {
  const std::string dir = JoinPath(
      repo.vrepo_dir(), "cache/runs/" + std::to_string(::getpid()) + "-" +
                            std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                           std::chrono::microseconds(1)) +
                            "-" + std::to_string(g_command_run_counter++));
  VREPO_RETURN_IF_ERROR(MakeDirs(dir));
  return dir;
}

// Removes a folder on every path out of a scope unless released.
class RunFolderGuard {
 public:
  explicit RunFolderGuard(std::string dir) : dir_(std::move(dir)) {}
  ~RunFolderGuard() {
    if (!dir_.empty()) RemoveRunFolder(dir_);
  }
  RunFolderGuard(const RunFolderGuard&) = delete;
  RunFolderGuard& operator=(const RunFolderGuard&) = delete;

 private:
  std::string dir_;
};

// The label tables a run names: `labels`, or every table file of the commit that reads as one.
Result<json> TablesJson(Repository& repo, const std::string& commit,
                        const std::vector<std::string>& labels, const TableOptions& columns,
                        std::vector<std::string>* warnings) {
  std::vector<std::string> tables = labels;
  const bool all = tables.empty();
  if (all) {
    VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, repo.history().ReadTree(commit));
    for (const FileEntry& f : files) {
      if (TableFormatForPath(f.path).ok()) tables.push_back(f.path);
    }
  }
  json out = json::array();
  for (const std::string& table : tables) {
    auto version = LoadDataset(repo.history(), repo.store(), commit, table, columns);
    if (!version.ok()) {
      if (!all) return version.status();
      warnings->push_back(table + " is not read as a label table: " + version.status().message());
      continue;
    }
    out.push_back({{"table", table},
                   {"samples", version->samples.size()},
                   {"sample_digest", SampleDigestOf(*version)}});
  }
  return out;
}

Status CheckOutputFolder(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::FromErrno(dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + ": exists and is not a folder");
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(dir, errno);
  bool empty = true;
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  }
  ::closedir(d);
  if (!empty) return Status::InvalidArgument(dir + ": exists and is not empty");
  return Status::OK();
}

json EnvironmentJson(const std::vector<std::string>& command, const std::string& cwd,
                     const json& variables) {
  json env = {{"python", nullptr}, {"torch", nullptr}, {"cuda", nullptr}};
  if (LooksLikePython(command[0])) env = ProbePython(command[0], cwd);
  env["variables"] = variables;
  return env;
}

std::string CommandLineText(const std::vector<std::string>& command) {
  std::string out;
  for (const std::string& a : command) out += (out.empty() ? "" : " ") + QuotePath(a, true);
  return out;
}

// Metric fields that time something differ between any two runs.
bool IsTimingField(const std::string& name) {
  return name.find("second") != std::string::npos || name.find("time") != std::string::npos ||
         name.find("duration") != std::string::npos;
}

}  // namespace

const char* CommandStatusName(CommandStatus status) {
  switch (status) {
    case CommandStatus::kCompleted:
      return "completed";
    case CommandStatus::kInterrupted:
      return "interrupted";
    case CommandStatus::kFailed:
      break;
  }
  return "failed";
}

Result<CommandRunResult> RunCommand(Repository& repo, const CommandRunOptions& options) {
  if (options.command.empty() || options.command[0].empty()) {
    return Status::InvalidArgument("no command to run");
  }
  if (!options.open_writer) VREPO_RETURN_IF_ERROR(RequireWritable(repo, "run"));
  if (!options.name.empty()) VREPO_RETURN_IF_ERROR(CheckNewRunName(repo.history(), options.name));
  VREPO_ASSIGN_OR_RETURN(std::string commit, repo.history().ResolveCommit(options.rev));
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, repo.history().GetCommit(commit));
  std::vector<std::string> warnings;
  VREPO_ASSIGN_OR_RETURN(json tables,
                         TablesJson(repo, commit, options.labels, options.columns, &warnings));
  if (!options.output_dir.empty()) VREPO_RETURN_IF_ERROR(CheckOutputFolder(options.output_dir));
  VREPO_ASSIGN_OR_RETURN(json code, CodeJson(options.command, options.cwd));

  VREPO_ASSIGN_OR_RETURN(std::string run_dir, NewRunFolder(repo));
  RunFolderGuard guard(run_dir);
  ExecutionPlan plan{
      options.command,         options.cwd, commit, options.name, options.output_dir, run_dir,
      options.stdout_to_stderr};
  const json environment = EnvironmentJson(options.command, options.cwd, json::object());
  VREPO_ASSIGN_OR_RETURN(Execution ex, Execute(repo, plan));
  warnings.insert(warnings.end(), ex.warnings.begin(), ex.warnings.end());
  for (const std::string& w : warnings) Warn(options.reporter, w);

  std::unique_ptr<Repository> writer_repo;
  if (options.open_writer) {
    VREPO_ASSIGN_OR_RETURN(writer_repo, options.open_writer());
  }
  Repository& target = writer_repo ? *writer_repo : repo;
  VREPO_ASSIGN_OR_RETURN(RunCommitWriter writer, RunCommitWriter::Start(target, options.name));

  CommandRunResult result;
  result.status = ex.end.status;
  result.exit_code = ex.end.exit_code;
  result.signal = ex.end.signal;
  json outputs = json::array();
  for (const std::string& rel : ex.output_files) {
    VREPO_ASSIGN_OR_RETURN(FileEntry e,
                           writer.AddFile("outputs/" + rel, JoinPath(ex.output_dir, rel)));
    result.outputs.push_back({rel, e.id, e.size});
    outputs.push_back({{"path", rel}, {"content_id", e.id.Hex()}, {"size", e.size}});
  }
  std::string metrics;
  for (const json& line : ex.metrics) metrics += line.dump() + "\n";
  result.metrics_lines = ex.metrics.size();
  json env = environment;
  env["variables"] = ex.variables;
  result.record = {
      {"format", 1},
      {"kind", "command"},
      {"name", options.name.empty() ? json() : json(options.name)},
      {"status", CommandStatusName(ex.end.status)},
      {"exit_code", ex.end.exit_code ? json(*ex.end.exit_code) : json()},
      {"signal", ex.end.signal ? json(*ex.end.signal) : json()},
      {"dataset", {{"rev", options.rev}, {"commit", commit}, {"tree", info.tree}}},
      {"tables", tables},
      {"command", options.command},
      {"cwd", options.cwd},
      {"code", code},
      {"environment", env},
      {"device", RunDeviceName()},
      {"host", RunHostName()},
      {"started", ex.started},
      {"seconds", ex.seconds},
      {"outputs", outputs},
      {"metrics_lines", ex.metrics.size()},
      {"warnings", warnings},
      {"versions",
       {{"vrepo", options.vrepo_version}, {"source_revision", options.source_revision}}},
  };
  VREPO_RETURN_IF_ERROR(writer.AddBytes("run.json", result.record.dump(2) + "\n").status());
  VREPO_RETURN_IF_ERROR(writer.AddBytes("metrics.jsonl", metrics).status());
  const std::string label = options.name.empty() ? "" : " " + options.name;
  VREPO_ASSIGN_OR_RETURN(
      result.commit,
      writer.Finish({commit}, "run" + label + ": " + CommandLineText(options.command) + " (" +
                                  CommandStatusName(ex.end.status) + ")"));
  result.name = options.name.empty() ? result.commit.substr(0, 12) : options.name;
  result.warnings = std::move(warnings);
  return result;
}

bool CommandReproReport::ok() const {
  if (interrupted) return false;
  return std::all_of(fields.begin(), fields.end(),
                     [](const CommandReproField& f) { return f.match || !f.required; });
}

Result<std::optional<CommandRunRecord>> ReadCommandRun(Repository& repo,
                                                       const std::string& id_or_name) {
  History& history = repo.history();
  std::string key = id_or_name;
  if (key.starts_with(kRunsRefPrefix)) key = key.substr(kRunsRefPrefix.size());
  CommandRunRecord run;
  if (key.empty()) return std::optional<CommandRunRecord>();
  auto ref = history.ReadRef(std::string(kRunsRefPrefix) + key);
  if (ref.ok() && ref->has_value()) {
    run.name = key;
    run.commit = **ref;
  } else if (key.size() >= 4 && IsLowerHex(key)) {
    auto commit = history.ResolveCommit(key);
    if (!commit.ok()) return std::optional<CommandRunRecord>();
    run.commit = *commit;
    VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs,
                           history.RefsWithPrefix(std::string(kRunsRefPrefix)));
    for (const RefInfo& r : refs) {
      if (r.target == run.commit) run.name = r.name;
    }
  } else {
    return std::optional<CommandRunRecord>();
  }
  auto run_json = history.FileAt(run.commit, "run.json");
  if (!run_json.ok()) return std::optional<CommandRunRecord>();
  const std::string where = "run " + run.commit.substr(0, 12) + ": run.json";
  VREPO_ASSIGN_OR_RETURN(std::string bytes, repo.store().Get(run_json->id));
  if (bytes.size() > (64u << 20) || JsonNestingPastLimit(bytes, 16) != std::string_view::npos) {
    return Status::Corruption(where + " is too large or nests too deep");
  }
  run.run = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (run.run.is_discarded() || !run.run.is_object()) {
    return Status::Corruption(where + " is not a JSON object");
  }
  if (run.run.value("kind", json()) != json("command")) return std::optional<CommandRunRecord>();
  // Everything a reproduction reads, checked before it reads it.
  auto strings = [](const json& v) {
    return v.is_array() && !v.empty() &&
           std::all_of(v.begin(), v.end(), [](const json& s) { return s.is_string(); });
  };
  if (!strings(run.run.value("command", json())) || !run.run.value("cwd", json()).is_string() ||
      !run.run.value("dataset", json()).is_object() ||
      !run.run["dataset"].value("commit", json()).is_string() ||
      !run.run.value("outputs", json()).is_array() || !run.run.value("tables", json()).is_array()) {
    return Status::Corruption(where +
                              ": command, cwd, dataset.commit, outputs or tables missing "
                              "or of the wrong type");
  }
  auto metrics = history.FileAt(run.commit, "metrics.jsonl");
  if (metrics.ok()) {
    VREPO_ASSIGN_OR_RETURN(run.metrics_jsonl, repo.store().Get(metrics->id));
  }
  return std::optional<CommandRunRecord>(std::move(run));
}

Result<CommandReproReport> ReproduceCommandRun(Repository& repo, const CommandRunRecord& run,
                                               const CommandReproOptions& options) {
  const json& rec = run.run;
  const std::vector<std::string> command = rec["command"].get<std::vector<std::string>>();
  const std::string cwd = rec["cwd"].get<std::string>();
  const std::string commit = rec["dataset"]["commit"].get<std::string>();
  if (!IsDir(cwd)) {
    return Status::NotFound("run " + run.DisplayName() + " ran in " + cwd +
                            ", which is not a folder here");
  }
  CommandReproReport report;
  auto add = [&](std::string name, json recorded, json reproduced, bool required = true,
                 std::string note = "") {
    const bool match = recorded == reproduced;
    report.fields.push_back({std::move(name), std::move(recorded), std::move(reproduced), match,
                             required, match ? "" : std::move(note)});
  };

  VREPO_ASSIGN_OR_RETURN(CommitInfo info, repo.history().GetCommit(commit));
  std::vector<std::string> labels, warnings;
  TableOptions columns;
  for (const json& t : rec["tables"]) {
    if (t.is_object() && t.value("table", json()).is_string()) labels.push_back(t["table"]);
  }
  json tables = json::array();
  if (!labels.empty()) {
    VREPO_ASSIGN_OR_RETURN(tables, TablesJson(repo, commit, labels, columns, &warnings));
  }
  VREPO_ASSIGN_OR_RETURN(json code, CodeJson(command, cwd));
  const json environment = EnvironmentJson(command, cwd, json::object());

  VREPO_ASSIGN_OR_RETURN(std::string run_dir, NewRunFolder(repo));
  RunFolderGuard guard(run_dir);
  const json recorded_name = rec.value("name", json());
  ExecutionPlan plan{command,
                     cwd,
                     commit,
                     recorded_name.is_string() ? recorded_name.get<std::string>() : "",
                     "",
                     run_dir,
                     options.stdout_to_stderr};
  VREPO_ASSIGN_OR_RETURN(Execution ex, Execute(repo, plan));
  for (const std::string& w : ex.warnings) Warn(options.reporter, w);
  if (ex.end.status == CommandStatus::kInterrupted) {
    report.interrupted = true;
    return report;
  }

  add("dataset commit", rec["dataset"]["commit"], commit);
  add("dataset tree", rec["dataset"].value("tree", json()), info.tree);
  for (const json& t : rec["tables"]) {
    if (!t.is_object()) continue;
    const std::string table = t.value("table", std::string());
    json now;
    for (const json& r : tables) {
      if (r["table"] == table) now = r["sample_digest"];
    }
    add("sample digest " + table, t.value("sample_digest", json()), now);
  }
  add("status", rec.value("status", json()), CommandStatusName(ex.end.status));
  add("exit code", rec.value("exit_code", json()),
      ex.end.exit_code ? json(*ex.end.exit_code) : json());
  if (!rec.value("signal", json()).is_null() || ex.end.signal) {
    add("signal", rec.value("signal", json()), ex.end.signal ? json(*ex.end.signal) : json());
  }

  std::map<std::string, json> recorded_outputs, reproduced_outputs;
  for (const json& o : rec["outputs"]) {
    if (o.is_object() && o.value("path", json()).is_string()) {
      recorded_outputs[o["path"]] = o.value("content_id", json());
    }
  }
  for (const std::string& rel : ex.output_files) {
    VREPO_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(JoinPath(ex.output_dir, rel)));
    reproduced_outputs[rel] = ContentId::Of(file.data()).Hex();
  }
  std::set<std::string> paths;
  for (const auto& [p, id] : recorded_outputs) paths.insert(p);
  for (const auto& [p, id] : reproduced_outputs) paths.insert(p);
  for (const std::string& p : paths) {
    const bool was = recorded_outputs.count(p) > 0, is = reproduced_outputs.count(p) > 0;
    add("output " + p + " content id", was ? recorded_outputs[p] : json(),
        is ? reproduced_outputs[p] : json(), true,
        !is    ? "missing"
        : !was ? "extra"
               : "different");
  }

  std::vector<std::string> ignored;
  const std::vector<json> recorded_metrics =
      ReadMetricsLines(run.metrics_jsonl, "metrics.jsonl", &ignored);
  add("metrics lines", recorded_metrics.size(), ex.metrics.size());
  const size_t lines = std::max(recorded_metrics.size(), ex.metrics.size());
  for (size_t i = 0; i < lines; ++i) {
    const json empty = json::object();
    const json& a = i < recorded_metrics.size() ? recorded_metrics[i] : empty;
    const json& b = i < ex.metrics.size() ? ex.metrics[i] : empty;
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const std::string& k : keys) {
      const bool timing = IsTimingField(k);
      add("metrics line " + std::to_string(i + 1) + " " + k, a.value(k, json()), b.value(k, json()),
          !timing, timing ? "timing" : "");
    }
  }

  const json rec_code = rec.value("code", json::object());
  add("code revision", rec_code.is_object() ? rec_code.value("revision", json()) : json(),
      code["revision"], false);
  add("code dirty", rec_code.is_object() ? rec_code.value("dirty", json()) : json(), code["dirty"],
      false);
  const json rec_env = rec.value("environment", json::object());
  for (const char* key : {"python", "torch", "cuda"}) {
    add(key, rec_env.is_object() ? rec_env.value(key, json()) : json(), environment[key], false);
  }
  add("device", rec.value("device", json()), RunDeviceName(), false);
  const json rec_versions = rec.value("versions", json::object());
  add("vrepo source revision",
      rec_versions.is_object() ? rec_versions.value("source_revision", json()) : json(),
      options.source_revision, false);
  return report;
}

}  // namespace vrepo::runs
