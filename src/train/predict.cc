#include "vrepo/train/predict.h"

#include <torch/torch.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <numeric>
#include <utility>

#include "vrepo/train/model_store.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/train/transforms.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

Status CheckOptions(const RunModel& model, const PredictOptions& options) {
  if (options.top == 0) return Status::InvalidArgument("top must be at least 1");
  if (options.batch_size < 1) return Status::InvalidArgument("batch size must be at least 1");
  if (model.classes.empty())
    return Status::InvalidArgument(model.arch + ": the model has no classes");
  return CheckDevice(options.device);
}

// The file's bytes, with a header that decodes: the cheap checks, made on every file before
// the model runs so that a bad one late in the list costs nothing.
Status CheckImageFile(const std::string& path) {
  VREPO_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  return ProbeImage(bytes, path).status();
}

Result<std::vector<ImagePrediction>> PredictFilesImpl(const RunModel& model,
                                                      const std::vector<std::string>& paths,
                                                      const PredictOptions& options) {
  VREPO_RETURN_IF_ERROR(CheckOptions(model, options));
  for (const std::string& path : paths) VREPO_RETURN_IF_ERROR(CheckImageFile(path));
  VREPO_ASSIGN_OR_RETURN(Model net, BuildRunModel(model));
  const bool cuda =
      options.device == "cuda" || (options.device == "auto" && torch::cuda::is_available());
  const torch::Device device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  net->to(device);
  // As Evaluate runs it, so both paths give the same probabilities.
  ToChannelsLast(*net);
  net->eval();
  torch::NoGradGuard no_grad;
  DecodeOptions decode;  // native channels: the transform converts as PIL would
  decode.max_pixels = options.max_image_pixels;
  std::vector<ImagePrediction> out;
  out.reserve(paths.size());
  const size_t batch = static_cast<size_t>(options.batch_size);
  for (size_t start = 0; start < paths.size(); start += batch) {
    const size_t end = std::min(paths.size(), start + batch);
    std::vector<torch::Tensor> images;
    for (size_t i = start; i < end; ++i) {
      VREPO_ASSIGN_OR_RETURN(std::string bytes, ReadFile(paths[i]));
      VREPO_ASSIGN_OR_RETURN(DecodedImage image, DecodeImage(bytes, paths[i], decode));
      VREPO_ASSIGN_OR_RETURN(torch::Tensor x, EvalTransform(image, model.preprocessing, paths[i]));
      images.push_back(std::move(x));
    }
    torch::Tensor x = torch::stack(images).contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor probs =
        torch::softmax(net->forward(x.to(device)).to(torch::kCPU).to(torch::kFloat32), 1)
            .contiguous();
    auto p = probs.accessor<float, 2>();
    for (size_t i = start; i < end; ++i) {
      const float* row = &p[static_cast<int64_t>(i - start)][0];
      std::vector<float> probabilities(row, row + probs.size(1));
      out.push_back({paths[i], TopClasses(probabilities, model.classes, options.top)});
    }
  }
  return out;
}

}  // namespace

Result<RunModel> ReadPredictModel(Repository& repo, const std::string& spec) {
  if (!spec.starts_with("model:")) {
    VREPO_ASSIGN_OR_RETURN(RunRecord run, ReadRun(repo, spec));
    return ReadRunModel(repo, run);
  }
  VREPO_ASSIGN_OR_RETURN(ModelRecord record, ReadModel(repo, spec));
  VREPO_ASSIGN_OR_RETURN(std::string bytes, ReadModelWeights(repo, record));
  try {
    VREPO_ASSIGN_OR_RETURN(SafetensorsFile file,
                           ParseSafetensors(bytes, "model " + record.name + " model.safetensors"));
    RunModel out;
    out.arch = record.info.arch;
    out.classes = record.info.classes;
    out.preprocessing = record.info.preprocessing;
    out.channels = out.preprocessing.channels;
    out.image_size = out.preprocessing.crop;
    out.tensors = std::move(file.tensors);
    out.metadata = std::move(file.metadata);
    return out;
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument("model " + record.name + ": " + what.substr(0, what.find('\n')));
  }
}

Result<std::vector<ImagePrediction>> PredictFiles(const RunModel& model,
                                                  const std::vector<std::string>& paths,
                                                  const PredictOptions& options) {
  // libtorch reports failures as exceptions; none may cross the library's API.
  try {
    return PredictFilesImpl(model, paths, options);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument("predict: " + what.substr(0, what.find('\n')));
  }
}

Result<std::vector<ImagePrediction>> PredictTable(Repository& repo, const RunModel& model,
                                                  EvalOptions eval, const PredictOptions& options) {
  VREPO_RETURN_IF_ERROR(CheckOptions(model, options));
  std::string weights;
  try {
    // Evaluate takes weights as a run writes them: the metadata names model, classes and the
    // preprocessing, which is the model's resolved one, as PredictFiles uses it.
    const json classes = model.classes;
    VREPO_ASSIGN_OR_RETURN(
        weights,
        SerializeSafetensors(model.tensors,
                             {{"model", model.arch},
                              {"classes", classes.dump()},
                              {"channels", std::to_string(model.preprocessing.channels)},
                              {"preprocessing", PreprocessingToJson(model.preprocessing).dump()},
                              {"format", "pt"}}));
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument("predict: " + what.substr(0, what.find('\n')));
  }
  eval.probabilities = true;
  eval.batch_size = options.batch_size;
  eval.device = options.device;
  eval.max_image_pixels = options.max_image_pixels;
  VREPO_ASSIGN_OR_RETURN(EvalResult result, Evaluate(repo, weights, eval));
  std::vector<ImagePrediction> out;
  out.reserve(result.predictions.size());
  for (const Prediction& p : result.predictions) {
    out.push_back({p.path, TopClasses(p.probabilities, result.classes, options.top)});
  }
  return out;
}

std::vector<ClassScore> TopClasses(const std::vector<float>& probabilities,
                                   const std::vector<std::string>& classes, size_t k) {
  std::vector<int64_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::min(k, order.size());
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
      [&](int64_t a, int64_t b) {
        return probabilities[a] != probabilities[b] ? probabilities[a] > probabilities[b] : a < b;
      });
  std::vector<ClassScore> top;
  for (size_t i = 0; i < k; ++i) {
    const int64_t c = order[i];
    top.push_back({c, c < static_cast<int64_t>(classes.size()) ? classes[c] : std::to_string(c),
                   probabilities[c]});
  }
  return top;
}

}  // namespace vrepo::train
