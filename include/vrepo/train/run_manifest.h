// RunManifest: run.json as a typed value. A run record's manifest names the dataset version,
// the samples each split used (by digest), the base model, the full config, the code and
// device, the metrics of every epoch and the weights' content id. ToJson writes the stored
// form; FromJson reads and checks one that arrived from anywhere (a clone brings run records
// like everything else, docs/security.md). Plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "vrepo/train/config.h"
#include "vrepo/train/preprocess.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

// run.json's "format" value; readers refuse a larger one.
// 2: "preprocessing" (records without it are read as legacy ones, whose images were sized
// from the samples; version 1 readers would misread a version 2 record that way).
constexpr int kRunFormatVersion = 2;

enum class RunStatus {
  kCompleted,     // every epoch ran
  kEarlyStopped,  // validation stopped improving (--patience)
  kInterrupted,   // Ctrl-C: the epochs completed so far
};
// "completed", "early-stopped", "interrupted": the words run.json and the CLI use.
const char* RunStatusName(RunStatus status);

// A retain set's metrics after one epoch (--retain).
struct RetainMetrics {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // 0..1
};

struct EpochMetrics {
  int epoch = 0;  // 1-based
  double train_loss = 0;
  double val_loss = 0;
  double val_accuracy = 0;                           // 0..1
  std::map<std::string, double> per_class_accuracy;  // label -> 0..1 on validation
  double images_per_second = 0;                      // training images / training seconds
  double seconds = 0;                                // whole epoch, validation included
  // Learning rates of the epoch's last step: the head's, and the backbone's (NaN when the
  // backbone has no trainable parameter). NaN in records written before schedules existed.
  double lr = std::numeric_limits<double>::quiet_NaN();
  double backbone_lr = std::numeric_limits<double>::quiet_NaN();
  std::map<std::string, RetainMetrics> retain;  // RetainRecord::name -> metrics
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
  // The BLAS library and the kernels it picked for this CPU ("OpenBLAS Haswell"; "" in records
  // made before it was recorded). Other kernels round differently, so a replay on them can
  // differ in the last bits.
  std::string blas;
};

struct SplitRecord {
  std::string table;  // label table, path in the dataset commit
  double split = 0;   // val only: the share of the train table held out (0: own table)
  uint64_t samples = 0;
  std::string sample_digest;  // 64 hex; "" when nothing was read
};

// A LoRA run's adapter (lora.h): what adapter.json repeats beside adapter.safetensors.
struct LoraRecord {
  int rank = 0;  // 0: not a LoRA run
  double alpha = 0;
  std::vector<std::string> targets;  // the patterns, resolved (defaults spelled out)
  std::vector<std::string> layers;   // the layers adapted, in model order
};

// A table evaluated after every epoch to watch forgetting (--retain), through one head.
struct RetainRecord {
  std::string name;    // the key of EpochMetrics::retain: "TABLE@REV", + " (base head)"
  std::string table;   // path in the commit
  std::string commit;  // 40 hex
  // "current": the run's head, over the classes the table shares with the run; "base": the
  // base run's head, over the base's classes.
  std::string head = "current";
  uint64_t samples = 0;       // evaluated
  uint64_t skipped = 0;       // rows whose label the head does not have
  std::string sample_digest;  // 64 hex, of the evaluated samples
};

// A data-parallel run (distributed.h): how many processes trained it, and what each read.
struct DistributedRecord {
  int world_size = 1;              // 1: one process (run.json "distributed": null)
  std::string backend;             // "gloo" | "nccl"
  std::vector<std::string> hosts;  // by rank: the host name each rank ran on
  // By rank: the sample digest of the rank's share of the first epoch (the shares together
  // are the split's sample_digest).
  std::vector<std::string> train_digests;
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
  // The resolved preprocessing every split went through (run.json "preprocessing"). A record
  // without one is legacy: its images were sized from the samples (LoaderOptions).
  Preprocessing preprocessing;
  bool legacy_preprocessing = false;
  uint64_t seed = 0;
  VersionInfo versions;  // versions.device_name is run.json's "device"
  std::vector<RetainRecord> retain;
  std::vector<EpochMetrics> epochs;
  int best_epoch = 0;  // 1-based; 0 when no epoch completed
  double best_val_accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // best epoch, validation: [true][predicted]
  LoraRecord lora;
  DistributedRecord distributed;
  int64_t trainable_parameters = 0;  // elements of the parameters the run trained
  int64_t total_parameters = 0;      // of the whole model, adapters included
  // "model.safetensors" (every tensor) or, for a LoRA run, "adapter.safetensors" (the adapter
  // and the head; the base is named by base_model_id).
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
