// RunSummary: any run under refs/runs/ read without libtorch, flattened for tables, plots and
// the web view. A training run's run.json (train/run_manifest.h documents it) and a command
// run's (`vrepo run`, command_run.h) both become a name, a status, the dataset, a flat config
// and one row of numeric metrics per epoch or step. Plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"

namespace vrepo::runs {

enum class RunKind {
  kTrain,    // vrepo train: run.json without "kind"
  kCommand,  // vrepo run: run.json "kind": "command"
};
const char* RunKindName(RunKind kind);  // "train", "command"

struct RunSummary {
  std::string name;    // ref name under refs/runs/ ("" when none points at it)
  std::string commit;  // 40 hex
  int64_t time = 0;    // commit time, seconds since the epoch
  RunKind kind = RunKind::kTrain;
  std::string status;          // "completed", "early-stopped", "interrupted", "failed"
  std::string dataset_rev;     // as given
  std::string dataset_commit;  // 40 hex
  std::string base;            // training runs: the base spec ("run:NAME", "resnet18@v1"); else ""
  // What ran: the model (training runs) or the command line, joined with spaces.
  std::string what;
  // Scalar settings, flattened ("lr", "lora.rank") with their JSON text ("0.001", "\"sgd\"").
  // Training runs: run.json "config" (less "name") plus "model" and "seed"; command runs: the
  // command's
  // `--name value` and `--name=value` arguments.
  std::map<std::string, std::string> config;
  // One row per metrics line, in order: numeric fields, nested ones flattened with '.'
  // ("epoch", "train_loss", "val_accuracy", "retain.old@v1.accuracy").
  std::vector<std::map<std::string, double>> metrics;
  std::vector<std::string> classes;             // training runs; else empty
  std::vector<std::vector<int64_t>> confusion;  // training runs: [true][predicted]; else empty
  double seconds = 0;                           // wall time
  nlohmann::json record;                        // run.json as stored (an object)

  // The ref name, else the 12-digit short commit id.
  std::string DisplayName() const { return name.empty() ? commit.substr(0, 12) : name; }
};

// Whether a smaller value of `metric` is better: names containing "loss" or "error", and
// "seconds". Others (accuracy, f1, images_per_second) are better larger.
bool LowerIsBetter(const std::string& metric);
// The best and the last value `metric` took; nullopt when no row has it.
std::optional<double> BestMetric(const RunSummary& run, const std::string& metric);
std::optional<double> LastMetric(const RunSummary& run, const std::string& metric);
// Every metric name any row of `runs` has, sorted, "epoch" and "step" left out.
std::vector<std::string> MetricNames(const std::vector<RunSummary>& runs);
// The config keys whose values differ between `runs`, sorted. A key is compared among the runs
// of the kinds that have it (absent in one of those counts as a value), so that a command run
// beside training runs does not make every training setting differ.
std::vector<std::string> DifferingSettings(const std::vector<RunSummary>& runs);

// Parses run.json's bytes, bounded first (size and nesting: records arrive by clone).
// Corruption "<where>: ..." when too large, too deep, not JSON or not an object.
Result<nlohmann::json> ParseRunJson(std::string_view bytes, const std::string& where);

// Builds a summary from a record's run.json and metrics.jsonl (command runs; training runs
// read their epochs from run.json). Corruption "<where>: <problem>" for a run.json that is
// not an object or has fields of the wrong type, or a metrics line that is not an object.
Result<RunSummary> SummarizeRecord(const nlohmann::json& run_json, std::string_view metrics_jsonl,
                                   const std::string& where);

// Resolves a run by ref name (with or without "refs/runs/" or "run:") or a full or short
// commit id (4 digits at least) of a commit that a ref under refs/runs/ names or whose tree
// holds run.json (a removed run, a base run). Returns the commit; sets `*name` (when given) to
// the ref's name, or "" when no ref points at it. NotFound "unknown run 'x'".
Result<std::string> ResolveRunCommit(Repository& repo, const std::string& id_or_name,
                                     std::string* name = nullptr);
// Reads one run. NotFound as above; Corruption naming the run for a bad record.
Result<RunSummary> ReadRunSummary(Repository& repo, const std::string& id_or_name);
// Every run under refs/runs/, oldest first (by commit time, then name).
Result<std::vector<RunSummary>> ListRunSummaries(Repository& repo);

}  // namespace vrepo::runs
