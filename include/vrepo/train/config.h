// TrainConfig: every setting of `vrepo train`, as the command line and the config file give
// them, with JSON conversion and validation. Plain values; safe to copy between threads.
// The JSON keys are the field names below (run.json records the resolved config this way).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/dataset/image.h"
#include "vrepo/train/preprocess.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct TrainConfig {
  std::string rev = "HEAD";  // the dataset commit (any revision)
  std::string labels;        // label table of the training samples (path in the commit)
  std::string val_labels;    // label table of the validation samples; "" = split `labels`
  double val_split = 0.1;    // share of `labels` held out when val_labels is empty
  std::string path_column = "path";
  std::string label_column = "label";

  std::string model = "small-cnn";  // one of ModelNames()
  std::string base;                 // "" | safetensors path on disk | "run:ID"
  std::string freeze = "none";      // "none" | "backbone" | "until:layerN"
  // LoRA (lora.h): rank 0 = a full fine-tune. alpha 0 = the rank (scale 1); recorded resolved.
  // Targets: layer name patterns; empty = the architecture's defaults.
  int lora_rank = 0;
  double lora_alpha = 0;
  std::vector<std::string> lora_targets;

  int epochs = 10;
  int batch_size = 64;
  double lr = 1e-3;
  double head_lr = 0;               // 0 = same as lr
  std::string optimizer = "adamw";  // "adamw" | "sgd"
  double weight_decay = 0;
  double momentum = 0.9;             // sgd only
  std::vector<std::string> augment;  // any of "flip", "crop"
  // The crop side (the resize scales with it, WithImageSize); 0 = the base's or the model's
  // default. Legacy records: the square side images were resized to; 0 = native size.
  int image_size = 0;
  uint64_t seed = 0;
  std::string device = "auto";  // "auto" | "cpu" | "cuda"
  // "auto" | "fp32" | "bf16". bf16 = autocast: convolutions and matmuls in bf16, the loss,
  // the weights and the optimizer in fp32 (on the CPU fast only with AVX-512 bf16 or AMX).
  // auto = bf16 on CUDA, fp32 on the CPU.
  std::string precision = "auto";
  bool deterministic = false;
  int early_stop = 0;  // stop after N epochs without val accuracy gain; 0 = off
  std::string name;    // run name (refs/runs/NAME); "" = short commit id
  int workers = 0;     // loader threads; 0 = auto
  int prefetch = 4;    // batches decoded ahead of the trainer
  // Fine-tuning optimization (docs/training.md). The defaults are the behaviour of runs
  // recorded before these settings existed, so an old run.json without them reproduces.
  std::string schedule = "constant";  // "constant" | "cosine" | "step" (schedule.h)
  int warmup_epochs = 0;              // linear warmup, per step, over the first N epochs
  int step_epochs = 0;                // "step": x0.1 every N epochs; 0 = ceil(epochs / 3)
  double label_smoothing = 0;         // of the training loss, 0..1
  double grad_clip = 0;               // global L2 norm of the gradients; 0 = off
  double backbone_lr = 0;             // learning rate of the non-head parameters; 0 = lr
  // Data-parallel runs: batch norm normalizes with the statistics of the whole global batch
  // (all ranks) instead of each rank's share.
  bool sync_bn = false;
  // Tables evaluated after every epoch to watch forgetting: "TABLE" (at the run's dataset
  // commit) or "TABLE@REV"; the recorded config names the resolved commit.
  std::vector<std::string> retain;
  // Images claiming more pixels are refused from their header. Not recorded in run.json: a
  // limit of the machine that trains, not part of the experiment (an image either decodes
  // the same or the run fails).
  uint64_t max_image_pixels = kDefaultMaxImagePixels;
  // Set by reproduce, not read from or written to "config" (run.json records the resolved
  // preprocessing beside it): the preprocessing to use as it is, instead of resolving it from
  // the base, the model and image_size; or, for records made before preprocessing was
  // recorded, their legacy loader (LoaderOptions::legacy_preprocessing).
  std::optional<Preprocessing> preprocessing;
  bool legacy_preprocessing = false;
};

// The config as a JSON object, every key present.
nlohmann::json ConfigToJson(const TrainConfig& config);

// Reads a config from a JSON object. Keys absent keep their defaults; an unknown key or a
// value of the wrong type is InvalidArgument naming `source` and the key.
Result<TrainConfig> ConfigFromJson(const nlohmann::json& json, const std::string& source);

// Reads a JSON config file (ConfigFromJson on its contents).
Result<TrainConfig> ReadConfigFile(const std::string& path);

// OK for "auto", "cpu", and "cuda" where a CUDA device is present: the one check, and the
// one message, of train, eval and reproduce.
Status CheckDevice(const std::string& device);

// Checks values that do not need the repository: model name (listing the valid ones), freeze
// spec, optimizer, augment names, epochs/batch/lr/ratios ranges, device (and that CUDA is
// available when "cuda" is asked for), precision (bf16 only on CUDA). One-line
// InvalidArgument naming the setting.
Status ValidateConfig(const TrainConfig& config);

}  // namespace vrepo::train
