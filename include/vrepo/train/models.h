// Image classifiers for `vrepo train`: a small CNN and ResNet-18/34/50 whose parameter and
// buffer names equal torchvision's, so torchvision state dicts load unchanged; plus head
// replacement, freezing and parameter groups for fine-tuning. A model is used by one thread.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo::train {

// The names MakeModel accepts, in the order help text lists them.
const std::vector<std::string>& ModelNames();

// Every model is a backbone followed by one Linear classifier head registered as "fc".
class ImageClassifierImpl : public torch::nn::Module {
 public:
  // Logits [N, num_classes] for images [N, in_channels, H, W] (any H, W the net can pool).
  virtual torch::Tensor forward(torch::Tensor x) = 0;

  const std::string& name() const { return name_; }
  int64_t num_classes() const { return fc_->options.out_features(); }
  torch::nn::Linear& fc() { return fc_; }

  // Names of the stages "until:layerN" freezes, in forward order: the stem (may be empty)
  // and then layer1, layer2, ...
  virtual std::vector<std::string> StemModules() const = 0;
  int64_t num_layers() const { return num_layers_; }

  // Switches train/eval mode, but batch-norm layers of frozen parts stay in eval mode so their
  // running statistics do not move (see Freeze).
  void train(bool on = true) override;

  // The batch-norm modules that Freeze marked; train() keeps them in eval mode.
  std::vector<std::shared_ptr<torch::nn::Module>>& frozen_batch_norms() { return frozen_bn_; }

 protected:
  ImageClassifierImpl(std::string name, int64_t num_layers)
      : name_(std::move(name)), num_layers_(num_layers) {}
  torch::nn::Linear fc_{nullptr};

 private:
  std::string name_;
  int64_t num_layers_;
  std::vector<std::shared_ptr<torch::nn::Module>> frozen_bn_;
};

using Model = std::shared_ptr<ImageClassifierImpl>;

// Builds `name` (one of ModelNames()) with randomly initialised weights drawn from torch's
// global generator (seed it with torch::manual_seed first). InvalidArgument listing the valid
// names for an unknown name or for non-positive sizes.
Result<Model> MakeModel(const std::string& name, int64_t num_classes, int64_t in_channels = 3);

// Replaces the classifier head with a new, randomly initialised Linear with `num_classes`
// outputs (same input features, same device and dtype). The new head is trainable.
Status ReplaceHead(ImageClassifierImpl& model, int64_t num_classes);

// What to freeze when fine-tuning: nothing, everything but the head, or the stem and layers
// 1..until_layer.
struct FreezeSpec {
  enum class Kind { kNone, kBackbone, kUntilLayer };
  Kind kind = Kind::kNone;
  int until_layer = 0;  // for kUntilLayer: 1-based
};

// Parses "none", "backbone" or "until:layerN".
Result<FreezeSpec> ParseFreezeSpec(std::string_view text);
std::string FreezeSpecToString(const FreezeSpec& spec);

// Sets requires_grad=false on the frozen parameters and records their batch-norm layers so
// that they stay in eval mode. Unfreezes everything first, so it can be called again.
// InvalidArgument when until:layerN names a layer the model does not have.
Status Freeze(ImageClassifierImpl& model, const FreezeSpec& spec);

// Puts the frozen batch-norm layers back in eval mode. ImageClassifierImpl::train() already
// does this; trainers that toggle modes on submodules call it after model->train().
void KeepFrozenBatchNormInEval(ImageClassifierImpl& model);

// Trainable parameters split for separate learning rates: the classifier head and the rest.
// Frozen parameters are in neither.
struct ParamGroups {
  std::vector<torch::Tensor> head;
  std::vector<torch::Tensor> backbone;
};
ParamGroups SplitParameters(ImageClassifierImpl& model);

// Number of parameter elements (what torchvision's sum(p.numel()) reports).
int64_t CountParameters(const torch::nn::Module& module);

// Stores 4-D weights in channels_last layout, the faster one for convolutions on CPU (with
// oneDNN) and on CUDA with tensor cores. Inputs should be converted the same way.
void ToChannelsLast(torch::nn::Module& module);

}  // namespace vrepo::train
