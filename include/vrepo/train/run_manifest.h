// RunManifest: run.json as a typed value. A run record's manifest names the dataset version,
// the samples each split used (by digest), the base model, the full config, the code and
// device, the metrics of every epoch and the weights' content id. ToJson writes the stored
// form; FromJson reads and checks one that arrived from anywhere (a clone brings run records
// like everything else, docs/security.md). Plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "vrepo/train/config.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

// run.json's "format" value; readers refuse a larger one.
constexpr int kRunFormatVersion = 1;

enum class RunStatus {
  kCompleted,     // every epoch ran
  kEarlyStopped,  // validation stopped improving (--patience)
  kInterrupted,   // Ctrl-C: the epochs completed so far
};
// "completed", "early-stopped", "interrupted": the words run.json and the CLI use.
const char* RunStatusName(RunStatus status);

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double train_loss = 0;
  double val_loss = 0;
  double val_accuracy = 0;                           // 0..1
  std::map<std::string, double> per_class_accuracy;  // label -> 0..1 on validation
  double images_per_second = 0;                      // training images / training seconds
  double seconds = 0;                                // whole epoch, validation included
};
// One line of metrics.jsonl.
nlohmann::json EpochJson(const EpochMetrics& m);

// What produced a run: code, libraries and device.
struct VersionInfo {
  std::string vrepo;            // VREPO_VERSION
  std::string source_revision;  // git revision vrepo was built from ("...-dirty" if modified)
  std::string libtorch;         // TORCH_VERSION
  std::string cuda = "none";
  std::string cudnn = "none";
  std::string device_name;  // "cpu" or the CUDA device's name
};

struct SplitRecord {
  std::string table;  // label table, path in the dataset commit
  double split = 0;   // val only: the share of the train table held out (0: own table)
  uint64_t samples = 0;
  std::string sample_digest;  // 64 hex; "" when nothing was read
};

struct RunManifest {
  int format = kRunFormatVersion;
  std::string name;
  RunStatus status = RunStatus::kCompleted;
  std::string dataset_rev;     // the revision as given
  std::string dataset_commit;  // 40 hex
  std::string dataset_tree;    // 40 hex
  SplitRecord train, val;
  std::vector<std::string> classes;
  std::string model;
  std::string base_spec;        // config.base as given
  std::string base_model_id;    // 64 hex; "" when none
  std::string base_run_commit;  // 40 hex; "" unless the base is "run:ID"
  // 40 hex; "" unless the base is "model:NAME" (then also the commit's last parent)
  std::string base_model_commit;
  TrainConfig config;
  uint64_t seed = 0;
  VersionInfo versions;  // versions.device_name is run.json's "device"
  std::vector<EpochMetrics> epochs;
  int best_epoch = 0;  // 1-based; 0 when no epoch completed
  double best_val_accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // best epoch, validation: [true][predicted]
  std::string weights_path = "model.safetensors";
  std::string weights_id;  // 64 hex
  uint64_t weights_size = 0;
  double seconds = 0;  // wall time of the whole run
};

nlohmann::json ToJson(const RunManifest& manifest);
// Checks every field a reader uses (types, hex ids, paths in a tree, no control characters,
// bounded lengths; absent fields are allowed, as older records lack some) and reads them.
// Corruption "<where>: <field> is not ..." otherwise.
Result<RunManifest> FromJson(const nlohmann::json& json, const std::string& where);

}  // namespace vrepo::train
