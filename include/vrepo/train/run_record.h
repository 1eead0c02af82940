// Run records: a finished training run as a commit under refs/runs/ whose first parent is the
// dataset commit (then the base run and the base model's commit, if any). Its tree holds run.json
// (the RunManifest), metrics.jsonl, model.safetensors and plots/*.png. Written only when the run
// ends, in crash-safe order: objects durable, then the commit, then the ref. One thread per
// Repository.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/repo/repository.h"
#include "vrepo/train/run_manifest.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

// OK when `name` can name a new run: a plain name (letters, digits, '-', '_', '.') with no
// refs/runs/NAME yet. Train calls it first, so a taken name fails before any training.
Status CheckNewRunName(History& history, const std::string& name);

// Writes the record of a run: run.json (`manifest`), metrics.jsonl (one JSON line per epoch),
// model.safetensors (`weights`, whose content id and size the manifest names; for a LoRA run
// adapter.safetensors and adapter.json, manifest.weights_path) and its plots:
// plots/loss.png (train loss blue, validation loss orange), plots/accuracy.png (validation
// accuracy, 0..1) and plots/confusion.png (best epoch), and, when `val_predictions` is not
// empty, predictions/val.csv (TrainResult::val_predictions). The ref is refs/runs/NAME
// (manifest.name, else the commit's 12-digit short id). Returns the commit id.
// InvalidArgument "run name 'x' already exists" when the ref exists (nothing becomes
// visible then except unreferenced objects), and when the manifest has no epoch (a run
// interrupted before its first epoch ended is not recorded).
Result<std::string> WriteRunRecord(Repository& repo, const RunManifest& manifest,
                                   std::string_view weights, std::string_view val_predictions = {});

struct RunRecord {
  std::string name;                  // ref name under refs/runs/ ("" when the commit has none)
  std::string commit;                // 40 hex
  std::vector<std::string> parents;  // dataset commit, then base run, base model (if any)
  int64_t time = 0;                  // commit time, seconds since the epoch
  RunManifest manifest;              // run.json, checked
  std::vector<FileEntry> files;      // the record's tree
  // The display name: the ref name, else the short commit id.
  std::string DisplayName() const { return name.empty() ? commit.substr(0, 12) : name; }
};

// Finds a training run by ref name (with or without "refs/runs/"), or full or short commit id
// (runs::ResolveRunCommit). NotFound "unknown run 'x'"; Corruption when run.json is missing or
// malformed; InvalidArgument "run 'x' was recorded by vrepo run, not by vrepo train" for a
// command run (runs::ReadRunSummary reads both kinds).
Result<RunRecord> ReadRun(Repository& repo, const std::string& id_or_name);

// All training runs under refs/runs/, oldest first (by commit time, then name); command runs
// are left out.
Result<std::vector<RunRecord>> ListRuns(Repository& repo);

// The bytes of `path` in the run's tree (e.g. "model.safetensors"), verified.
Result<std::string> ReadRunFile(Repository& repo, const RunRecord& run, const std::string& path);

// The run's weights file as recorded (model.safetensors, or a LoRA run's adapter.safetensors;
// run_model.h gives any run's full weights).
Result<std::string> ReadRunWeights(Repository& repo, const RunRecord& run);

// Deletes the run's ref (refs/runs/NAME), if it still points at the run's commit. The objects
// stay until `gc`, and runs that started from it keep it as a parent.
Status RemoveRun(Repository& repo, const RunRecord& run);

// Writes the run's files (run.json, metrics.jsonl, model.safetensors, plots/...) under `dir`,
// which is created, or must be empty. The repository is only read.
Status ExportRun(Repository& repo, const RunRecord& run, const std::string& dir);

}  // namespace vrepo::train
