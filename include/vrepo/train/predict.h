// Prediction, the deployment path: a run's model (a LoRA adapter merged into its base) or an
// imported model classifies image files from disk, or a commit's samples, through the model's
// recorded preprocessing, and reports each image's top classes. Values are plain; the
// functions use the Repository from the calling thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrepo/dataset/image.h"
#include "vrepo/repo/repository.h"
#include "vrepo/train/run_model.h"
#include "vrepo/train/trainer.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct PredictOptions {
  size_t top = 5;  // classes per image, capped at the class count; 0 is refused
  int batch_size = 64;
  std::string device = "auto";  // auto, cpu or cuda
  uint64_t max_image_pixels = kDefaultMaxImagePixels;
};

struct ClassScore {
  int64_t index = 0;  // the model's output index
  std::string name;   // its class name
  double probability = 0;
};

struct ImagePrediction {
  std::string path;             // as given (files) or as the table names it (samples)
  std::vector<ClassScore> top;  // most probable first; ties by index
};

// The model `spec` names: "model:NAME" (an imported model: model.json's classes and
// preprocessing) or a run's name or commit id (ReadRunModel). NotFound for neither.
Result<RunModel> ReadPredictModel(Repository& repo, const std::string& spec);

// Classifies the image files at `paths` (read from disk) in order. Every file is read and its
// header checked before the model runs; any file that cannot be read or decoded fails the whole
// call with one line naming it, and no predictions are returned.
Result<std::vector<ImagePrediction>> PredictFiles(const RunModel& model,
                                                  const std::vector<std::string>& paths,
                                                  const PredictOptions& options);

// Classifies the samples of table `eval.labels` at commit `eval.rev`, read from the store, by
// the evaluation code (Evaluate), in table order.
Result<std::vector<ImagePrediction>> PredictTable(Repository& repo, const RunModel& model,
                                                  EvalOptions eval, const PredictOptions& options);

// The `k` most probable of `probabilities` (one per class of `classes`), most probable first.
std::vector<ClassScore> TopClasses(const std::vector<float>& probabilities,
                                   const std::vector<std::string>& classes, size_t k);

}  // namespace vrepo::train
