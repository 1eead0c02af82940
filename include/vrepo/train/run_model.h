// A recorded run's model, ready to use: its full weights with torchvision names (a LoRA run's
// adapter merged into the base its record names, found again by content id), its classes,
// channels and preprocessing. Eval, export, predict and a fine-tune from run:ID load runs
// here. Values are plain; the functions use the Repository from the calling thread only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "vrepo/repo/repository.h"
#include "vrepo/train/models.h"
#include "vrepo/train/preprocess.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct RunModel {
  std::string arch;                  // one of ModelNames()
  std::vector<std::string> classes;  // the head's classes, in index order
  int channels = 3;                  // what the first layer takes
  int image_size = 0;                // the side the run trained at (0: native)
  Preprocessing preprocessing;       // RunPreprocessing of the run
  TensorMap tensors;                 // every parameter and buffer, CPU, no adapter tensors
  std::map<std::string, std::string> metadata;  // of the run's weights file
};

// The full weights of the run `manifest` started from: its base file (taken from the store
// when the repository holds those bytes, else from the recorded path) or the base run's full
// weights. Their content id must be the recorded one: InvalidArgument naming the base
// otherwise (a file that changed since the run), NotFound when it is gone.
Result<TensorMap> ReadRunBase(Repository& repo, const RunManifest& manifest);

// The run's model: model.safetensors, or for a LoRA run the base's weights with the head and
// the adapter (merged) from adapter.safetensors.
Result<RunModel> ReadRunModel(Repository& repo, const RunRecord& run);

// A safetensors file of ReadRunModel's tensors with the run's metadata (what Evaluate takes);
// a full fine-tune's model.safetensors as stored.
Result<std::string> RunModelWeights(Repository& repo, const RunRecord& run);

// The preprocessing the run's model takes, as export's preprocessing.json records it.
Result<Preprocessing> RunPreprocessing(const RunManifest& manifest, int channels);

// `model`'s architecture built with its weights loaded (checked: every name and shape).
Result<Model> BuildRunModel(const RunModel& model);

}  // namespace vrepo::train
