// Reproduce: re-runs a recorded run's config on its recorded dataset commit and compares,
// field by field, what it recorded with what came out. It records nothing and needs only a
// read-only repository. One thread per Repository, as Train.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vrepo/train/run_record.h"
#include "vrepo/train/trainer.h"

namespace vrepo::train {

struct ReproField {
  std::string name;  // "dataset commit", "epoch 2 val_loss", ...
  nlohmann::json recorded, reproduced;
  bool match = false;
  bool required = true;  // whether a mismatch fails the reproduction
  std::string note;      // e.g. "|diff| 1.2e-05"
};

struct ReproOptions {
  uint64_t max_image_pixels = kDefaultMaxImagePixels;  // this machine's limit, not the record's
  TrainHooks hooks;
};

struct ReproReport {
  // The recorded run was --deterministic: metrics and weights must match bit for bit.
  bool deterministic = false;
  // Stopped by hooks.interrupted before the end: `fields` is empty, nothing was compared.
  bool interrupted = false;
  std::vector<ReproField> fields;
  // Every required field matched (and the run was not interrupted).
  bool ok() const;
};

// The config a reproduction trains with: the recorded one on the recorded commit (not what
// the recorded revision names today), unnamed, for the epochs an interrupted run completed.
Result<TrainConfig> ReproConfig(const RunRecord& run, const ReproOptions& options);

// Trains ReproConfig(run) and compares dataset commit and tree, sample digests, base model,
// epochs, metrics per epoch and the weights' content id (required: the data always; metrics
// and weights when the run was deterministic, since otherwise floating-point sums run in
// varying orders), plus, for information, vrepo's source revision, libtorch and device.
Result<ReproReport> Reproduce(Repository& repo, const RunRecord& run, const ReproOptions& options);

}  // namespace vrepo::train
