// Image classifiers for `vrepo train`: a small CNN, ResNet-18/34/50, MobileNetV3-Large,
// EfficientNet-B0, ConvNeXt-Tiny and ViT-B/16, whose parameter and buffer names equal
// torchvision 0.14's, so torchvision state dicts load unchanged; plus head replacement,
// freezing by stage and parameter groups for fine-tuning. A model is used by one thread.
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

// The dotted state-dict name of `arch`'s classifier head ("fc", "classifier.3", ...), known
// without building the model; "" for a name not in ModelNames().
std::string HeadName(const std::string& arch);

// The names MakeModel accepts, in the order help text lists them.
const std::vector<std::string>& ModelNames();

// A unit that "until:STAGE" freezes: its name and the dotted prefixes of the parameters and
// modules it covers (a prefix matches the name itself or anything below it).
struct ModelStage {
  std::string name;
  std::vector<std::string> prefixes;
};

// Every model is a backbone followed by one Linear classifier head. The head sits where
// torchvision registers it (head_name(): "fc", "classifier.3", "classifier.1",
// "classifier.2", "heads.head"); forward always calls head(), so ReplaceHead takes effect.
class ImageClassifierImpl : public torch::nn::Module {
 public:
  // Logits [N, num_classes] for images [N, in_channels, H, W]. CNNs take any H, W they can
  // pool; a model with input_size() > 0 throws std::invalid_argument for other sizes.
  virtual torch::Tensor forward(torch::Tensor x) = 0;

  const std::string& name() const { return name_; }
  int64_t num_classes() const { return head_->options.out_features(); }
  // The classifier head and its dotted name in the state dict.
  torch::nn::Linear& head() { return head_; }
  const std::string& head_name() const { return head_name_; }
  // The square input side the model is built for (ViT's positional embedding), 0 for any.
  int64_t input_size() const { return input_size_; }

  // The freezable stages in forward order (see FreezeStages).
  const std::vector<ModelStage>& stages() const { return stages_; }

  // Switches train/eval mode, but batch-norm layers of frozen parts stay in eval mode so their
  // running statistics do not move (see Freeze).
  void train(bool on = true) override;

  // The batch-norm modules that Freeze marked; train() keeps them in eval mode.
  std::vector<std::shared_ptr<torch::nn::Module>>& frozen_batch_norms() { return frozen_bn_; }

 protected:
  ImageClassifierImpl(std::string name, std::string head_name, int64_t input_size = 0);
  // Registers `head` at head_name() (its parent container must already be registered),
  // replacing what is there, and makes it the head forward uses.
  void SetHead(torch::nn::Linear head);
  torch::nn::Linear head_{nullptr};

 private:
  friend Status ReplaceHead(ImageClassifierImpl& model, int64_t num_classes);
  std::string name_;
  std::string head_name_;
  int64_t input_size_;
  std::vector<ModelStage> stages_;
  std::vector<std::shared_ptr<torch::nn::Module>> frozen_bn_;
};

using Model = std::shared_ptr<ImageClassifierImpl>;

// The input side MakeModel builds for when none is given: torchvision's 224.
constexpr int64_t kDefaultInputSize = 224;

// Builds `name` (one of ModelNames()) with randomly initialised weights drawn from torch's
// global generator (seed it with torch::manual_seed first), for `input_size` x `input_size`
// images (only ViT depends on it; it must be a multiple of 16 there). InvalidArgument listing
// the valid names for an unknown name, or for non-positive sizes.
Result<Model> MakeModel(const std::string& name, int64_t num_classes, int64_t in_channels = 3,
                        int64_t input_size = kDefaultInputSize);

// The stage names of architecture `name` in forward order, without building it:
// small-cnn layer1..layer3; resnets stem (conv1, bn1), layer1..layer4; mobilenet_v3_large
// features.0..features.16; efficientnet_b0 features.0..features.8; convnext_tiny
// features.0..features.7; vit_b_16 conv_proj (with class_token and the positional embedding),
// encoder_layer_0..encoder_layer_11. InvalidArgument for an unknown name.
Result<std::vector<std::string>> FreezeStages(const std::string& name);
// The same list folded for help text and errors: "stem, layer1..layer4".
std::string DescribeStages(const std::vector<std::string>& stages);

// Replaces the classifier head with a new, randomly initialised Linear with `num_classes`
// outputs (same input features, same device and dtype), in place in its container. The new
// head is trainable.
Status ReplaceHead(ImageClassifierImpl& model, int64_t num_classes);

// What to freeze when fine-tuning: nothing, everything but the head, or every stage up to and
// including `until_stage`.
struct FreezeSpec {
  enum class Kind { kNone, kBackbone, kUntilStage };
  Kind kind = Kind::kNone;
  std::string until_stage;  // for kUntilStage: a name from FreezeStages()
};

// Parses "none", "backbone" or "until:STAGE" (the stage is checked against a model by
// CheckFreezeSpec and Freeze).
Result<FreezeSpec> ParseFreezeSpec(std::string_view text);
std::string FreezeSpecToString(const FreezeSpec& spec);

// OK when architecture `model` has the stage `spec` names; otherwise InvalidArgument listing
// the model's stages.
Status CheckFreezeSpec(const std::string& model, const FreezeSpec& spec);

// Sets requires_grad=false on the frozen parameters and records their batch-norm layers so
// that they stay in eval mode. Unfreezes everything first, so it can be called again.
// InvalidArgument (see CheckFreezeSpec) when until:STAGE names a stage the model lacks.
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
