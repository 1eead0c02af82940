#include "vrepo/train/run_record.h"

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "vrepo/runs/run_commit.h"
#include "vrepo/runs/run_summary.h"
#include "vrepo/train/plots.h"
#include "vrepo/util/file.h"
#include "vrepo/util/text.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

constexpr const char* kRunsPrefix = "refs/runs/";

// adapter.json: what a reader of adapter.safetensors needs to rebuild the model, without
// run.json: the adapter's settings and layers, and the base it was trained on.
json AdapterJson(const RunManifest& m) {
  return {{"format", 1},
          {"method", "lora"},
          {"model", m.model},
          {"rank", m.lora.rank},
          {"alpha", m.lora.alpha},
          {"scale", m.lora.alpha / m.lora.rank},
          {"targets", m.lora.targets},
          {"layers", m.lora.layers},
          {"base",
           {{"spec", m.base_spec},
            {"model_content_id", m.base_model_id},
            {"run_commit", m.base_run_commit}}},
          {"weights", m.weights_path}};
}

}  // namespace

Status CheckNewRunName(History& history, const std::string& name) {
  return runs::CheckNewRunName(history, name);
}

Result<std::string> WriteRunRecord(Repository& repo, const RunManifest& manifest,
                                   std::string_view weights, std::string_view val_predictions) {
  if (repo.read_only()) return Status::InvalidArgument("run record: repository opened read-only");
  // Without an epoch there are no metrics or digests to trace, and nothing to reproduce.
  if (manifest.epochs.empty()) {
    return Status::InvalidArgument("run record: the run completed no epoch; nothing to record");
  }
  VREPO_ASSIGN_OR_RETURN(runs::RunCommitWriter writer,
                         runs::RunCommitWriter::Start(repo, manifest.name));

  std::string metrics;
  for (const EpochMetrics& m : manifest.epochs) metrics += EpochJson(m).dump() + "\n";
  std::vector<std::pair<std::string, std::string>> files = {
      {"run.json", ToJson(manifest).dump(2) + "\n"},
      {"metrics.jsonl", metrics},
      {manifest.weights_path, std::string(weights)},
  };
  if (manifest.lora.rank > 0)
    files.push_back({"adapter.json", AdapterJson(manifest).dump(2) + "\n"});
  if (!val_predictions.empty())
    files.push_back({"predictions/val.csv", std::string(val_predictions)});
  VREPO_ASSIGN_OR_RETURN(auto plots, RunPlots(manifest));
  for (auto& plot : plots) files.push_back(std::move(plot));
  for (const auto& [path, bytes] : files)
    VREPO_RETURN_IF_ERROR(writer.AddBytes(path, bytes).status());

  std::vector<std::string> parents = {manifest.dataset_commit};
  if (!manifest.base_run_commit.empty()) parents.push_back(manifest.base_run_commit);
  // A model base is a parent too, so that the run's closure (push, clone, gc) holds it.
  if (!manifest.base_model_commit.empty()) parents.push_back(manifest.base_model_commit);
  const std::string label = manifest.name.empty() ? "" : " " + manifest.name;
  return writer.Finish(parents, "run" + label + ": " + manifest.model + " on " +
                                    manifest.train.table + " (" + RunStatusName(manifest.status) +
                                    ")");
}

Result<RunRecord> ReadRun(Repository& repo, const std::string& id_or_name) {
  History& history = repo.history();
  RunRecord run;
  VREPO_ASSIGN_OR_RETURN(run.commit, runs::ResolveRunCommit(repo, id_or_name, &run.name));
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(run.commit));
  run.parents = info.parents;
  run.time = info.time;
  VREPO_ASSIGN_OR_RETURN(run.files, history.ReadTree(run.commit));
  auto it = std::find_if(run.files.begin(), run.files.end(),
                         [](const FileEntry& f) { return f.path == "run.json"; });
  if (it == run.files.end()) {
    return Status::Corruption("run " + run.commit.substr(0, 12) + ": no run.json in its tree");
  }
  auto bytes = repo.store().Get(it->id);
  if (!bytes.ok()) {
    return bytes.status().WithContext("run " + run.commit.substr(0, 12) + ": run.json");
  }
  const std::string where = "run " + run.commit.substr(0, 12) + ": run.json";
  VREPO_ASSIGN_OR_RETURN(json parsed, runs::ParseRunJson(*bytes, where));
  if (parsed.value("kind", json()) == "command") {
    return Status::InvalidArgument("run '" + run.DisplayName() +
                                   "' was recorded by vrepo run, not by vrepo train");
  }
  VREPO_ASSIGN_OR_RETURN(run.manifest, FromJson(parsed, where));
  return run;
}

Result<std::vector<RunRecord>> ListRuns(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, repo.history().RefsWithPrefix(kRunsPrefix));
  std::vector<RunRecord> runs;
  for (const RefInfo& ref : refs) {
    auto run = ReadRun(repo, ref.name);
    // Command runs (vrepo run) have no manifest to read; runs::ListRunSummaries lists both.
    if (!run.ok() && run.status().code() == Status::Code::kInvalidArgument) continue;
    if (!run.ok()) return run.status();
    runs.push_back(std::move(run).value());
  }
  std::stable_sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.time != b.time ? a.time < b.time : a.name < b.name;
  });
  return runs;
}

Result<std::string> ReadRunFile(Repository& repo, const RunRecord& run, const std::string& path) {
  for (const FileEntry& f : run.files) {
    if (f.path == path) {
      auto bytes = repo.store().Get(f.id);
      if (!bytes.ok()) {
        return bytes.status().WithContext("run " + run.commit.substr(0, 12) + ": " + path);
      }
      return std::move(bytes).value();
    }
  }
  return Status::NotFound("run " + run.commit.substr(0, 12) + ": no file '" + path + "'");
}

Result<std::string> ReadRunWeights(Repository& repo, const RunRecord& run) {
  return ReadRunFile(repo, run, run.manifest.weights_path);
}

Status RemoveRun(Repository& repo, const RunRecord& run) {
  if (repo.read_only()) return Status::InvalidArgument("runs rm: repository opened read-only");
  if (run.name.empty()) {
    return Status::InvalidArgument("run " + run.commit + " has no ref under refs/runs/");
  }
  return repo.history().UpdateRef(kRunsPrefix + run.name, "", run.commit, "runs rm: " + run.name);
}

Status ExportRun(Repository& repo, const RunRecord& run, const std::string& dir) {
  // Never mixes a run's files into a folder that already holds something.
  if (DIR* d = ::opendir(dir.c_str())) {
    bool empty = true;
    while (const dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
    }
    ::closedir(d);
    if (!empty) return Status::InvalidArgument(dir + ": exists and is not empty");
  }
  // The record's paths passed history's tree-name checks when the run was read.
  for (const FileEntry& f : run.files) {
    VREPO_ASSIGN_OR_RETURN(std::string bytes, ReadRunFile(repo, run, f.path));
    const std::string path = JoinPath(dir, f.path);
    VREPO_RETURN_IF_ERROR(MakeDirs(ParentPath(path)));
    VREPO_RETURN_IF_ERROR(WriteFileAtomic(path, bytes, 0644, /*durable=*/false));
  }
  return Status::OK();
}

}  // namespace vrepo::train
