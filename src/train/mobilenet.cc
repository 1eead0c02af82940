// MobileNetV3-Large as torchvision/models/mobilenetv3.py builds it, module for module: the
// registration names are the keys of torchvision's state dicts.
#include <torch/nn.h>

#include "model_blocks.h"

namespace vrepo::train::blocks {
namespace {
namespace nn = torch::nn;

// Batch norm of MobileNetV3: eps 0.001, momentum 0.01.
nn::BatchNormOptions Norm() { return nn::BatchNormOptions(0).eps(0.001).momentum(0.01); }

struct BlockConfig {
  int64_t in, kernel, expanded, out;
  bool se;
  bool hardswish;  // else ReLU
  int64_t stride;
};

// Table 1 of the MobileNetV3 paper, as _mobilenet_v3_conf("mobilenet_v3_large") lists it.
constexpr BlockConfig kLarge[] = {
    {16, 3, 16, 16, false, false, 1},  {16, 3, 64, 24, false, false, 2},
    {24, 3, 72, 24, false, false, 1},  {24, 5, 72, 40, true, false, 2},
    {40, 5, 120, 40, true, false, 1},  {40, 5, 120, 40, true, false, 1},
    {40, 3, 240, 80, false, true, 2},  {80, 3, 200, 80, false, true, 1},
    {80, 3, 184, 80, false, true, 1},  {80, 3, 184, 80, false, true, 1},
    {80, 3, 480, 112, true, true, 1},  {112, 3, 672, 112, true, true, 1},
    {112, 5, 672, 160, true, true, 2}, {160, 5, 960, 160, true, true, 1},
    {160, 5, 960, 160, true, true, 1},
};
constexpr int64_t kLastChannel = 1280;

class InvertedResidualImpl : public nn::Module {
 public:
  explicit InvertedResidualImpl(const BlockConfig& c) : residual_(c.stride == 1 && c.in == c.out) {
    const Activation act = c.hardswish ? Activation::kHardswish : Activation::kReLU;
    nn::Sequential block;
    if (c.expanded != c.in) block->push_back(ConvNormAct(c.in, c.expanded, 1, 1, 1, Norm(), act));
    block->push_back(
        ConvNormAct(c.expanded, c.expanded, c.kernel, c.stride, c.expanded, Norm(), act));
    if (c.se) {
      block->push_back(SqueezeExcitation(c.expanded, MakeDivisible(c.expanded / 4),
                                         Activation::kReLU, Activation::kHardsigmoid));
    }
    block->push_back(ConvNormAct(c.expanded, c.out, 1, 1, 1, Norm(), Activation::kNone));
    block_ = register_module("block", block);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = block_->forward(x);
    return residual_ ? out + x : out;
  }

 private:
  nn::Sequential block_{nullptr};
  bool residual_;
};
TORCH_MODULE(InvertedResidual);

class MobileNetV3Impl : public ImageClassifierImpl {
 public:
  MobileNetV3Impl(int64_t num_classes, int64_t in_channels)
      : ImageClassifierImpl("mobilenet_v3_large", "classifier.3") {
    nn::Sequential features;
    features->push_back(
        ConvNormAct(in_channels, kLarge[0].in, 3, 2, 1, Norm(), Activation::kHardswish));
    for (const BlockConfig& c : kLarge) features->push_back(InvertedResidual(c));
    const int64_t last_in = kLarge[std::size(kLarge) - 1].out;
    features->push_back(ConvNormAct(last_in, 6 * last_in, 1, 1, 1, Norm(), Activation::kHardswish));
    features_ = register_module("features", features);
    auto classifier = Container(*this, "classifier");
    hidden_ = classifier->register_module("0", AdaptedLinear(6 * last_in, kLastChannel));
    SetHead(nn::Linear(kLastChannel, num_classes));

    // torchvision's initialisation.
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
        if (conv->bias.defined()) nn::init::zeros_(conv->bias);
      } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      } else if (auto* linear = m->as<nn::Linear>()) {
        nn::init::normal_(linear->weight, 0, 0.01);
        nn::init::zeros_(linear->bias);
      }
    }
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = AveragePool(features_->forward(x), 1).flatten(1);
    x = torch::dropout(torch::hardswish(hidden_(x)), kDropout, is_training());
    return head_(x);
  }

 private:
  static constexpr double kDropout = 0.2;
  nn::Sequential features_{nullptr};
  AdaptedLinear hidden_{nullptr};
};

}  // namespace

Model MakeMobileNetV3Large(int64_t num_classes, int64_t in_channels) {
  return std::make_shared<MobileNetV3Impl>(num_classes, in_channels);
}

}  // namespace vrepo::train::blocks
