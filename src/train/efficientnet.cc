// EfficientNet-B0 as torchvision/models/efficientnet.py builds it (MBConv blocks with
// squeeze-excitation, SiLU and stochastic depth), module for module: the registration names
// are the keys of torchvision's state dicts.
#include <torch/nn.h>

#include <cmath>

#include "model_blocks.h"

namespace vrepo::train::blocks {
namespace {
namespace nn = torch::nn;

nn::BatchNormOptions Norm() { return nn::BatchNormOptions(0); }

struct StageConfig {
  int64_t expand_ratio, kernel, stride, in, out, layers;
};

// Table 1 of the EfficientNet paper at width and depth 1.0 (B0).
constexpr StageConfig kB0[] = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};
constexpr double kEfficientNetStochasticDepth = 0.2;
constexpr double kDropout = 0.2;

class MBConvImpl : public nn::Module {
 public:
  MBConvImpl(int64_t expand_ratio, int64_t kernel, int64_t stride, int64_t in, int64_t out,
             double drop_path)
      : residual_(stride == 1 && in == out), drop_path_(drop_path) {
    const int64_t expanded = MakeDivisible(static_cast<double>(in * expand_ratio));
    nn::Sequential block;
    if (expanded != in) {
      block->push_back(ConvNormAct(in, expanded, 1, 1, 1, Norm(), Activation::kSiLU));
    }
    block->push_back(
        ConvNormAct(expanded, expanded, kernel, stride, expanded, Norm(), Activation::kSiLU));
    block->push_back(SqueezeExcitation(expanded, std::max<int64_t>(1, in / 4), Activation::kSiLU,
                                       Activation::kSigmoid));
    block->push_back(ConvNormAct(expanded, out, 1, 1, 1, Norm(), Activation::kNone));
    block_ = register_module("block", block);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = block_->forward(x);
    if (!residual_) return out;
    return StochasticDepth(out, drop_path_, is_training()) + x;
  }

 private:
  nn::Sequential block_{nullptr};
  bool residual_;
  double drop_path_;
};
TORCH_MODULE(MBConv);

class EfficientNetImpl : public ImageClassifierImpl {
 public:
  EfficientNetImpl(int64_t num_classes, int64_t in_channels)
      : ImageClassifierImpl("efficientnet_b0", "classifier.1") {
    nn::Sequential features;
    features->push_back(ConvNormAct(in_channels, kB0[0].in, 3, 2, 1, Norm(), Activation::kSiLU));
    int64_t total = 0;
    for (const StageConfig& c : kB0) total += c.layers;
    int64_t block_id = 0;
    for (const StageConfig& c : kB0) {
      Stack stage;
      for (int64_t i = 0; i < c.layers; ++i) {
        // The drop probability grows linearly with the block's depth in the network.
        const double p = kEfficientNetStochasticDepth * static_cast<double>(block_id++) / total;
        stage->push_back(MBConv(c.expand_ratio, c.kernel, i == 0 ? c.stride : 1,
                                i == 0 ? c.in : c.out, c.out, p));
      }
      features->push_back(stage);
    }
    const int64_t last_in = kB0[std::size(kB0) - 1].out;
    features->push_back(ConvNormAct(last_in, 4 * last_in, 1, 1, 1, Norm(), Activation::kSiLU));
    features_ = register_module("features", features);
    Container(*this, "classifier");
    SetHead(nn::Linear(4 * last_in, num_classes));

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
        const double range = 1.0 / std::sqrt(static_cast<double>(linear->options.out_features()));
        nn::init::uniform_(linear->weight, -range, range);
        nn::init::zeros_(linear->bias);
      }
    }
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = AveragePool(features_->forward(x), 1).flatten(1);
    return head_(torch::dropout(x, kDropout, is_training()));
  }

 private:
  nn::Sequential features_{nullptr};
};

}  // namespace

Model MakeEfficientNetB0(int64_t num_classes, int64_t in_channels) {
  return std::make_shared<EfficientNetImpl>(num_classes, in_channels);
}

}  // namespace vrepo::train::blocks
