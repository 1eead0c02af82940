// The training stage: resolves the dataset version, builds train and validation loaders,
// fine-tunes a model and returns everything a run record holds; and evaluation of a trained
// model on any dataset version. Train and Evaluate use the Repository from the calling thread
// only (the loader reads the store from its own threads).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/repo/repository.h"
#include "vrepo/train/config.h"
#include "vrepo/train/run_manifest.h"
#include "vrepo/util/reporter.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

class RankGroup;

struct TrainResult {
  TrainConfig config;                // resolved: device actually used, workers, head_lr, seed, ...
  std::vector<std::string> classes;  // sorted distinct labels of train + val
  std::string dataset_commit;        // 40 hex
  std::string dataset_tree;          // 40 hex
  std::string train_digest;          // sample digest of what the loader read
  std::string val_digest;
  uint64_t train_samples = 0;
  uint64_t val_samples = 0;
  std::string base_model_id;    // content id (hex) of the base weights; "" when none
  std::string base_run_commit;  // the base run's commit when base is "run:ID"; "" otherwise
  std::vector<std::string> lora_targets;  // LoRA runs: the patterns, defaults spelled out
  std::vector<std::string> lora_layers;   // LoRA runs: the layers adapted
  int64_t trainable_parameters = 0;
  int64_t total_parameters = 0;
  std::vector<RetainRecord> retain;  // --retain sets, in the order of EpochMetrics::retain
  // The model's commit when base is "model:NAME"; "" otherwise.
  std::string base_model_commit;
  std::vector<EpochMetrics> epochs;
  int best_epoch = 0;  // 1-based; 0 when no epoch completed
  RunStatus status = RunStatus::kCompleted;
  // The resolved preprocessing (the base's or the model's default, then --image-size), or
  // legacy_preprocessing when the config asked to replay a legacy record.
  Preprocessing preprocessing;
  bool legacy_preprocessing = false;
  // safetensors bytes of the best epoch's state dict (a LoRA run: its adapter and head tensors
  // only); metadata: "model", "classes" (JSON array), "preprocessing" (JSON object); legacy
  // runs "channels" and "image_size" (the side the model was trained at, 0 = native) instead.
  std::string weights;
  // Best epoch, validation: confusion[true class][predicted class].
  std::vector<std::vector<int64_t>> confusion;
  // Best epoch, validation: one CSV record per sample, by path, after the header
  // `path,label,predicted,p_label,p_predicted` (the run record's predictions/val.csv).
  std::string val_predictions;
  VersionInfo versions;
  double seconds = 0;             // wall time of the whole run
  DistributedRecord distributed;  // a data-parallel run's world (world_size 1 otherwise)
};

// The run record's manifest of `result`: everything but the weights' bytes (their content id
// and size instead).
RunManifest ManifestOf(const TrainResult& result);

struct TrainHooks {
  // When set and it becomes true (Ctrl-C), training stops after the current batch and Train
  // returns status "interrupted" with the epochs completed so far.
  std::atomic<bool>* interrupted = nullptr;
  // Hears a transient line per N batches and an Info line per epoch, images/s included.
  Reporter* reporter = nullptr;
  // This process's rank in a data-parallel job (distributed.h), or nullptr: one process.
  // Every rank calls Train with the same config; each trains on its share of every batch and
  // all return the same result (metrics and weights), so any one rank may record it.
  RankGroup* group = nullptr;
};

// Runs the training the config describes. The config is validated first; bad data (labels
// naming missing images, undecodable images, hash mismatches), a bad base model or an
// unknown model are errors, and nothing is written to the repository in any case.
Result<TrainResult> Train(Repository& repo, const TrainConfig& config, const TrainHooks& hooks);

// The versions of this build and the name of `device` ("cpu" or "cuda").
VersionInfo CurrentVersions(const std::string& device);

// Evaluation of trained weights on a dataset version.
struct EvalOptions {
  std::string rev = "HEAD";
  std::string labels;  // table path in the commit
  std::string path_column = "path";
  std::string label_column = "label";
  int batch_size = 256;
  int workers = 0;
  std::string device = "auto";
  uint64_t max_image_pixels = kDefaultMaxImagePixels;  // as TrainConfig's
  bool probabilities = false;  // fill Prediction::probabilities (predict's top K)
};

struct Prediction {
  size_t sample = 0;  // index into EvalResult::samples order (table order)
  std::string path;
  std::string label;             // the table's label
  std::string predicted;         // the model's top class
  double confidence = 0;         // probability of `predicted`
  double label_probability = 0;  // probability the model gives the table's label

  // Every class's probability, by index, when EvalOptions::probabilities.
  std::vector<float> probabilities;
};

struct EvalResult {
  std::string commit, tree;
  std::string sample_digest;
  std::vector<std::string> classes;  // the model's classes (from the weights' metadata)
  uint64_t samples = 0;
  double loss = 0;  // mean cross-entropy over samples whose label is a model class
  double accuracy = 0;
  std::map<std::string, double> per_class_accuracy;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted] over model classes
  std::vector<Prediction> predictions;          // table order
};

// Evaluates safetensors `weights` written by Train (metadata names model, classes and
// preprocessing, which every image goes through; legacy weights name channels and image size
// instead). Samples whose label is not a model class count as wrong.
Result<EvalResult> Evaluate(Repository& repo, std::string_view weights, const EvalOptions& options);

// The `n` predictions that most confidently disagree with their label (wrong, sorted by
// ascending label probability): likely label errors.
std::vector<Prediction> Suspects(const EvalResult& result, size_t n);

}  // namespace vrepo::train
