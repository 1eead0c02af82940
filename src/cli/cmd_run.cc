// vrepo run [--name NAME] [--rev REV] [--labels TABLE...] [--output DIR] [--json] -- CMD ARGS...:
// runs any command (a training script) against a commit's dataset and records it as a run
// under refs/runs/. The repository is opened read-only while the command runs, and for
// writing only to record it, so a long run blocks no other writer.
#include <nlohmann/json.hpp>

#include "cli.h"
#include "table_source.h"
#include "terminal_reporter.h"
#include "vrepo/runs/command_run.h"
#include "vrepo/util/file.h"
#include "vrepo_source_revision.h"  // generated at build time

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

struct RunCmdOpts {
  std::string name;
  std::string rev = "HEAD";
  std::vector<std::string> labels;
  std::string output;
  bool json = false;
  TableOptions columns;
};

// The exit code a shell gives a command: its own, or 128 + the signal that ended it.
int CommandExitCode(const runs::CommandRunResult& r) {
  if (r.exit_code) return *r.exit_code;
  if (r.signal) return 128 + *r.signal;
  return kExitFatal;
}

int RunRunCommand(const Globals& g, const RunCmdOpts& o) {
  if (g.paths.empty()) {
    return FailWith("run",
                    "no command given: vrepo run [OPTIONS] -- CMD ARGS... [see 'vrepo run --help']",
                    kExitUsage);
  }
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("run", repo.status());
  TerminalReporter reporter(o.json);
  runs::CommandRunOptions options;
  options.command = g.paths;
  options.cwd = g.cwd;
  options.name = o.name;
  options.rev = o.rev;
  options.columns = o.columns;
  if (!o.labels.empty()) {
    auto tables = CommittedTablePaths(**repo, g, o.rev, o.labels, &reporter);
    if (!tables.ok()) return Fail("run", tables.status());
    options.labels = *tables;
  }
  if (!o.output.empty())
    options.output_dir = o.output[0] == '/' ? o.output : JoinPath(g.cwd, o.output);
  options.vrepo_version = VREPO_VERSION;
  options.source_revision = VREPO_SOURCE_REVISION;
  options.reporter = &reporter;
  options.stdout_to_stderr = o.json;
  // A run that took hours is not lost to a writer that holds the lock for a moment.
  Globals recorder = g;
  recorder.wait = true;
  options.open_writer = [&recorder] { return OpenRepository(recorder, /*write=*/true); };
  auto result = runs::RunCommand(**repo, options);
  if (!result.ok()) return Fail("run", WithTableHint(result.status(), o.columns));

  if (o.json) {
    json outputs = json::array();
    for (const auto& out : result->outputs) {
      outputs.push_back({{"path", out.path}, {"content_id", out.id.Hex()}, {"size", out.size}});
    }
    json doc = {{"name", result->name},
                {"commit", result->commit},
                {"ref", "refs/runs/" + result->name},
                {"status", runs::CommandStatusName(result->status)},
                {"exit_code", result->exit_code ? json(*result->exit_code) : json()},
                {"signal", result->signal ? json(*result->signal) : json()},
                {"outputs", outputs},
                {"metrics_lines", result->metrics_lines},
                {"warnings", result->warnings}};
    Print(doc.dump(2) + "\n");
  } else {
    std::string how = result->exit_code ? "exit " + std::to_string(*result->exit_code)
                      : result->signal  ? "signal " + std::to_string(*result->signal)
                                        : "no exit status";
    Print("run " + result->name + " recorded: " + result->commit + " (refs/runs/" + result->name +
          ")\n");
    Print("status: " + std::string(runs::CommandStatusName(result->status)) + " (" + how + ")\n");
    uint64_t bytes = 0;
    for (const auto& out : result->outputs) bytes += out.size;
    Print("outputs: " + Counted(result->outputs.size(), "file") +
          (result->outputs.empty() ? "" : ", " + HumanBytes(static_cast<double>(bytes))) + "\n");
    for (const auto& out : result->outputs) {
      Print("  " + out.path + "  " + out.id.Hex().substr(0, 12) + "  " +
            HumanBytes(static_cast<double>(out.size)) + "\n");
    }
    Print("metrics: " + Counted(result->metrics_lines, "line") + "\n");
  }
  return CommandExitCode(*result);
}

}  // namespace

Command RegisterRun(CLI::App& app, Globals& g) {
  auto o = std::make_shared<RunCmdOpts>();
  CLI::App* sub = app.add_subcommand(
      "run",
      "Run any command (a training script) on a commit's dataset and record it as a run\n"
      "Usage: vrepo run [OPTIONS] -- CMD ARGS...\n"
      "Gives the command the files of REV as a read-only folder (VREPO_DATA: hard links into a "
      "cache under .vrepo/cache, no second copy of the bytes where the filesystem allows), an "
      "output folder (VREPO_OUTPUT), a file for metrics (VREPO_METRICS: append one JSON object "
      "a line, per epoch or step), VREPO_RUN_NAME and VREPO_COMMIT; stdin, stdout and stderr "
      "pass through. When it ends, records a commit under refs/runs/NAME whose parent is the "
      "dataset commit: run.json (command line, folder, dataset commit and tree, the tables' "
      "sample digests, the code's git revision and dirty state, python, torch and CUDA "
      "versions, device, exit status, wall time), metrics.jsonl and every regular file of the "
      "output folder under outputs/. `vrepo reproduce NAME` runs it again and compares. "
      "Exits with the command's exit code (128 + N when signal N ended it); 128 when nothing "
      "ran (unknown revision or table, output folder not empty, name taken).");
  sub->add_option("--name", o->name, "Run name, the ref refs/runs/NAME (default: commit id)")
      ->type_name("NAME");
  sub->add_option("--rev", o->rev, "The dataset commit (default HEAD)")->type_name("REV");
  sub->add_option("--labels", o->labels,
                  "Label tables whose sample digests to record (default: every .csv, .jsonl "
                  "and .ndjson table of the commit)")
      ->type_name("TABLE");
  sub->add_option("--output", o->output,
                  "Output folder, kept (must be empty or absent; default: a temporary one, "
                  "removed once recorded)")
      ->type_name("DIR");
  sub->add_flag("--json", o->json,
                "Print the recorded run as JSON (the command's stdout goes to stderr)");
  AddColumnOptions(sub, &o->columns);
  return {sub, [&g, o] { return RunRunCommand(g, *o); }, /*takes_paths=*/true};
}

}  // namespace vrepo::cli
