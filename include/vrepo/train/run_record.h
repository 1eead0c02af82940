// Run records: a finished training run as a commit under refs/runs/ whose first parent is the
// dataset commit (second: the base run, if any). Its tree holds run.json, metrics.jsonl,
// model.safetensors and plots/*.png. Written only when the run ends, in crash-safe order:
// objects durable, then the commit, then the ref. One thread per Repository.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/repo/repository.h"
#include "vrepo/train/trainer.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

// run.json's "format" value; readers refuse a larger one.
constexpr int kRunFormatVersion = 1;

// run.json for `result` (without the weights' bytes; with their content id).
nlohmann::json RunJson(const TrainResult& result);

// OK when `name` can name a new run: a plain name (letters, digits, '-', '_', '.') with no
// refs/runs/NAME yet. Train calls it first, so a taken name fails before any training.
Status CheckNewRunName(History& history, const std::string& name);

// Writes the record of `result`: run.json, metrics.jsonl (one JSON line per epoch),
// model.safetensors, and `extra_files` (tree path -> bytes, e.g. "plots/loss.png"). The ref is
// refs/runs/NAME (config.name, else the commit's 12-digit short id). Returns the commit id.
// InvalidArgument "run name 'x' already exists" when the ref exists (nothing becomes
// visible then except unreferenced objects).
Result<std::string> WriteRunRecord(
    Repository& repo, const TrainResult& result,
    const std::vector<std::pair<std::string, std::string>>& extra_files = {});

struct RunRecord {
  std::string name;                  // ref name under refs/runs/ ("" when the commit has none)
  std::string commit;                // 40 hex
  std::vector<std::string> parents;  // dataset commit, then base run (if any)
  int64_t time = 0;                  // commit time, seconds since the epoch
  nlohmann::json run;                // parsed run.json
  std::vector<FileEntry> files;      // the record's tree
};

// Finds a run by ref name (with or without "refs/runs/"), or full or short commit id.
// NotFound "unknown run 'x'"; Corruption when run.json is missing or malformed.
Result<RunRecord> ReadRun(Repository& repo, const std::string& id_or_name);

// All runs under refs/runs/, oldest first (by commit time, then name).
Result<std::vector<RunRecord>> ListRuns(Repository& repo);

// The bytes of `path` in the run's tree (e.g. "model.safetensors"), verified.
Result<std::string> ReadRunFile(Repository& repo, const RunRecord& run, const std::string& path);

// The run's weights (model.safetensors).
Result<std::string> ReadRunWeights(Repository& repo, const RunRecord& run);

}  // namespace vrepo::train
