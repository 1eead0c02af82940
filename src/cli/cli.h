// Shared pieces of the vrepo command line: global options, how each command registers
// itself, opening the repository, and the formatting helpers several commands print with.
// Single-threaded: a command runs once per process.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/dataset/label_table.h"
#include "vrepo/history/history.h"
#include "vrepo/remote/server.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/json_writer.h"
#include "vrepo/util/reporter.h"
#include "vrepo/util/status.h"
#include "vrepo/util/text.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::cli {

// Exit codes, as git uses them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // "nothing to commit", fsck problems, refusals
inline constexpr int kExitFatal = 128;  // not a repository, unknown revision, locked, IO
inline constexpr int kExitUsage = 129;  // bad command line

struct Globals {
  std::string directory;           // -C DIR
  bool wait = false;               // --wait: wait for the writer lock instead of failing
  std::string cwd;                 // absolute folder the command runs in (after -C)
  std::vector<std::string> paths;  // the words after "--", for commands with takes_paths
};

// A subcommand and what runs it once the command line parsed.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
  bool takes_paths = false;  // "--" ends its options and revisions; paths follow (g.paths)
};

// One per command file.
Command RegisterInit(CLI::App& app, Globals& g);
Command RegisterAdd(CLI::App& app, Globals& g);
Command RegisterRm(CLI::App& app, Globals& g);
Command RegisterMv(CLI::App& app, Globals& g);
Command RegisterStatus(CLI::App& app, Globals& g);
Command RegisterCommit(CLI::App& app, Globals& g);
Command RegisterLog(CLI::App& app, Globals& g);
Command RegisterShow(CLI::App& app, Globals& g);
Command RegisterDiff(CLI::App& app, Globals& g);
Command RegisterBranch(CLI::App& app, Globals& g);
Command RegisterSwitch(CLI::App& app, Globals& g);
Command RegisterCheckout(CLI::App& app, Globals& g);
Command RegisterTag(CLI::App& app, Globals& g);
Command RegisterRestore(CLI::App& app, Globals& g);
Command RegisterRevParse(CLI::App& app, Globals& g);
Command RegisterLsTree(CLI::App& app, Globals& g);
Command RegisterFsck(CLI::App& app, Globals& g);
Command RegisterGc(CLI::App& app, Globals& g);
Command RegisterMerge(CLI::App& app, Globals& g);
Command RegisterDataset(CLI::App& app, Globals& g);
Command RegisterRemote(CLI::App& app, Globals& g);
Command RegisterPush(CLI::App& app, Globals& g);
Command RegisterFetch(CLI::App& app, Globals& g);
Command RegisterPull(CLI::App& app, Globals& g);
Command RegisterClone(CLI::App& app, Globals& g);
Command RegisterServe(CLI::App& app, Globals& g);
Command RegisterUi(CLI::App& app, Globals& g);
Command RegisterRun(CLI::App& app, Globals& g);
Command RegisterHelp(CLI::App& app, Globals& g);
Command RegisterVersion(CLI::App& app, Globals& g);

// The version of the --json vocabulary (docs/json.md), raised by every change a script could
// trip on; `vrepo version --json` reports it.
inline constexpr int kJsonSchemaVersion = 2;
// train, runs, reproduce, eval: each runs vrepo-train (cmd_train_dispatch.cc).
std::vector<Command> RegisterTrainCommands(CLI::App& app, Globals& g);

// The sample-level diff of a label table between two commits (one REV: against HEAD).
// With `exit_code`, exits 1 when a sample changed (diff --exit-code).
int RunDatasetDiff(const Globals& g, const std::vector<std::string>& revs,
                   const std::string& labels, const TableOptions& columns, bool json_out,
                   bool exit_code = false);

// The main of vrepo and vrepo-train once their commands are registered: parses the command
// line (help, version and usage errors exit here), moves to -C DIR, runs the one command
// that parsed and flushes stdout. Returns the exit code.
int ParseAndRun(CLI::App& app, Globals& g, const std::vector<Command>& commands, int argc,
                char** argv);

// Before CLI11 parses `args` (argv without the program name): `help CMD` becomes
// `CMD --help`, an unknown command name fails with one line suggesting the closest ones,
// and for a command that takes paths the words after "--" move to g.paths. Returns the exit
// code when it failed, or -1 to go on.
int PrepareArgs(const CLI::App& app, const std::vector<Command>& commands, Globals& g,
                std::vector<std::string>* args);

// --path-column and --label-column: which column (or JSON key) of a label table holds the
// image path and which the label. Every command that reads label tables takes both.
void AddColumnOptions(CLI::App* sub, TableOptions* columns);

// serve and ui (cmd_serve.cc): "HOST:PORT" or "[V6]:PORT" of --listen.
Status ParseListen(const std::string& listen, std::string* host, int* port);
// Binds a RepositoryServer with `options` on `listen`, calls `announce` once it listens, and
// serves, logging one line per request on stderr, until SIGINT or SIGTERM. Returns the exit
// code.
int ServeUntilStopped(const std::string& command, ServerOptions options, const std::string& listen,
                      const std::function<void(const RepositoryServer&)>& announce);

// Prints "vrepo: <what>: <why>" on stderr and returns the exit code for the status:
// kExitFailure for a refusal to lose work (Conflict), kExitFatal otherwise.
int Fail(const std::string& what, const Status& status);
// Prints "vrepo: <what>: <message>" on stderr and returns `code`.
int FailWith(const std::string& what, const std::string& message, int code);
// Prints "vrepo: <text>" on stderr and returns `code`.
int FailLine(const std::string& text, int code);

// Finds the repository around g.cwd. Read-only opens take no lock and never block;
// writers take the lock, waiting for it when --wait was given.
Result<std::unique_ptr<Repository>> OpenRepository(const Globals& g, bool write);
// User paths (relative to g.cwd, or absolute) as paths relative to the repository root.
Result<std::vector<std::string>> RepoPaths(const Repository& repo, const Globals& g,
                                           const std::vector<std::string>& user_paths);
// A root-relative path as seen from g.cwd ("../a/b" when g.cwd is a subfolder).
std::string PathFromCwd(const Repository& repo, const Globals& g, const std::string& path);

// The process's TerminalReporter (terminal_reporter.h): bars on a terminal, warnings on
// stderr. Commands whose --json output must stay quiet pass nullptr instead.
Reporter* CliReporter();

// Writes to stdout.
void Print(std::string_view text);

// A size for people: "512 bytes" ("512 B" with `short_unit`, as a progress bar has room for),
// "1.2 KiB", "3.4 MiB", "5.0 GiB". A double, so that rates (bytes per second) fit too.
std::string HumanBytes(double bytes, bool short_unit = false);
// "1 file", "2 files": `count` and the noun, with an 's' unless it is one.
std::string Counted(uint64_t count, const std::string& noun);

// Prints rows as columns, each padded to its widest cell (the last column unpadded).
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// The abbreviated commit id git shows (7 hex digits).
std::string ShortId(const std::string& id);
// The first line of a commit message.
std::string Subject(const std::string& message);
// git's default date: "Thu Apr 7 15:13:13 2005 -0700", in the commit's own time zone.
std::string FormatGitDate(int64_t time, int tz_offset_minutes);
// ISO 8601 with the commit's offset: "2005-04-07T15:13:13-07:00".
std::string FormatIsoDate(int64_t time, int tz_offset_minutes);

// "commit <id>\nAuthor: ...\nDate: ...\n\n    message\n", as git log prints it.
std::string FormatCommitHeader(const CommitInfo& commit);
// A commit as --json gives it (docs/json.md): "commit" (its id), "tree", "parents", author,
// dates and message. The Fields form writes them into an object the caller opened.
void WriteCommitJson(JsonWriter& json, const CommitInfo& commit);
void WriteCommitFields(JsonWriter& json, const CommitInfo& commit);

// "M\tpath\t123 -> 456 bytes" (A and D show one size).
std::string FormatDiffLine(const DiffEntry& entry);
// " path | 123 -> 456 bytes" lines padded to one column, then the total line.
std::string FormatDiffStat(const std::vector<DiffEntry>& entries);
void WriteDiffJson(JsonWriter& json, const std::vector<DiffEntry>& entries);

}  // namespace vrepo::cli
