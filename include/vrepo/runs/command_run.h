// Command runs (`vrepo run -- CMD`, docs/training.md "Runs from any script"): any command run
// against a commit's dataset, given to it as a read-only folder of hard links into a cache
// of the store's files, and recorded as a run commit under refs/runs/NAME whose parent is the
// dataset commit (run.json "kind": "command", docs/formats.md); and their reproduction. One
// thread per Repository. While the command runs, SIGINT and SIGTERM are handled (the
// process's handlers are put back after): the first is passed to the command's process
// group, a second kills it. Not for a process with two commands running at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/dataset/label_table.h"
#include "vrepo/repo/repository.h"
#include "vrepo/store/content_id.h"
#include "vrepo/util/reporter.h"
#include "vrepo/util/status.h"

namespace vrepo::runs {

enum class CommandStatus {
  kCompleted,    // exit status 0
  kFailed,       // another exit status, or killed by a signal
  kInterrupted,  // vrepo got SIGINT or SIGTERM while the command ran
};
const char* CommandStatusName(CommandStatus status);  // "completed", "failed", "interrupted"

struct CommandRunOptions {
  std::vector<std::string> command;  // argv; argv[0] is looked up on PATH
  std::string cwd;                   // absolute: where the command runs
  std::string name;                  // the run's name; "" names it by its commit's short id
  std::string rev = "HEAD";          // the dataset commit
  // Label tables (paths relative to the root) whose sample digests the record keeps; empty:
  // every .csv, .jsonl and .ndjson file of the commit that reads as a label table.
  std::vector<std::string> labels;
  TableOptions columns;
  // Absolute; must be empty or absent, and is kept. "": a folder under .vrepo/cache, removed
  // once its files are recorded.
  std::string output_dir;
  // For run.json "versions" (the library does not know the build's revision).
  std::string vrepo_version;
  std::string source_revision;
  Reporter* reporter = nullptr;  // warnings (also kept in run.json "warnings")
  // The command's stdout goes to stderr instead, for a caller whose stdout carries JSON.
  bool stdout_to_stderr = false;
  // Opens the repository for writing once the command has ended, to record the run, so that
  // a long command holds no writer lock. Null: `repo` itself, which must then be writable.
  std::function<Result<std::unique_ptr<Repository>>()> open_writer;
};

struct CommandOutput {
  std::string path;  // relative to the output folder, '/'-separated
  ContentId id;
  uint64_t size = 0;
};

struct CommandRunResult {
  std::string name;    // under refs/runs/
  std::string commit;  // the run commit, 40 hex
  CommandStatus status = CommandStatus::kFailed;
  std::optional<int> exit_code;  // when the command exited
  std::optional<int> signal;     // when a signal ended it
  std::vector<CommandOutput> outputs;
  uint64_t metrics_lines = 0;  // the valid ones, kept in metrics.jsonl
  std::vector<std::string> warnings;
  nlohmann::json record;  // run.json as written
};

// Checks everything first (REV, the tables, the output folder, the command, the name: a bad
// one is an InvalidArgument or NotFound naming it, and nothing runs or is recorded), then
// gives the command VREPO_DATA, VREPO_OUTPUT, VREPO_METRICS, VREPO_RUN_NAME and VREPO_COMMIT,
// runs it with stdin, stdout and stderr passed through, and records the run whatever its
// exit status. A command that cannot be started (not found) is an error, not a run.
Result<CommandRunResult> RunCommand(Repository& repo, const CommandRunOptions& options);

// One compared field of a reproduction (the shape of train's ReproField).
struct CommandReproField {
  std::string name;  // "exit code", "output model.pt content id", "metrics line 2 loss", ...
  nlohmann::json recorded, reproduced;
  bool match = false;
  bool required = true;  // whether a mismatch fails the reproduction
  std::string note;      // "missing", "extra", "timing"
};

struct CommandReproReport {
  bool interrupted = false;  // fields is then empty
  std::vector<CommandReproField> fields;
  bool ok() const;  // not interrupted and every required field matched
};

struct CommandRunRecord {
  std::string name;    // ref name ("" when none points at it)
  std::string commit;  // 40 hex
  nlohmann::json run;  // run.json, an object with "kind": "command"
  std::string metrics_jsonl;
  std::string DisplayName() const { return name.empty() ? commit.substr(0, 12) : name; }
};

// The run `id_or_name` (ref name with or without "refs/runs/", or a full or short commit id)
// when it is a command run; nullopt for a training run or a commit that is no run.
// Corruption naming the run when its run.json does not parse.
Result<std::optional<CommandRunRecord>> ReadCommandRun(Repository& repo,
                                                       const std::string& id_or_name);

struct CommandReproOptions {
  std::string source_revision;  // this build's, as in CommandRunOptions
  Reporter* reporter = nullptr;
  bool stdout_to_stderr = false;
};

// Runs the recorded command line again in the recorded folder on the recorded dataset commit
// (a fresh output folder, removed afterwards) and compares, field by field: dataset commit
// and tree, each table's sample digest, status and exit code, each output's content id
// (missing, extra, different), the metrics line by line and field by field (fields named
// for time, such as "seconds", are not required), plus, for information, the code revision,
// python, torch, device and vrepo's source revision. Records nothing; `repo` may be
// read-only.
Result<CommandReproReport> ReproduceCommandRun(Repository& repo, const CommandRunRecord& run,
                                               const CommandReproOptions& options);

}  // namespace vrepo::runs
