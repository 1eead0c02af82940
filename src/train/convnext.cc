// ConvNeXt-Tiny as torchvision/models/convnext.py builds it (depthwise 7x7 convolution, layer
// norm over channels, inverted MLP with GELU, layer scale, stochastic depth), module for
// module: the registration names are the keys of torchvision's state dicts.
#include <torch/nn.h>

#include "model_blocks.h"

namespace vrepo::train::blocks {
namespace {
namespace nn = torch::nn;

constexpr double kEps = 1e-6;
constexpr double kLayerScale = 1e-6;
constexpr double kConvNextStochasticDepth = 0.1;

class CNBlockImpl : public nn::Module {
 public:
  CNBlockImpl(int64_t dim, double drop_path) : drop_path_(drop_path) {
    auto block = Container(*this, "block");
    dwconv_ = block->register_module("0", Conv(dim, dim, 7, 1, 3, dim, /*bias=*/true));
    norm_ = block->register_module("2", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(kEps)));
    fc1_ = block->register_module("3", AdaptedLinear(dim, 4 * dim));
    fc2_ = block->register_module("5", AdaptedLinear(4 * dim, dim));
    layer_scale_ = register_parameter("layer_scale", torch::full({dim, 1, 1}, kLayerScale));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    // The MLP runs on [N, H, W, C], as torchvision's Permute modules arrange.
    torch::Tensor y = norm_(dwconv_(x).permute({0, 2, 3, 1}));
    y = fc2_(torch::gelu(fc1_(y))).permute({0, 3, 1, 2});
    return StochasticDepth(layer_scale_ * y, drop_path_, is_training()) + x;
  }

 private:
  AdaptedConv2d dwconv_{nullptr};
  nn::LayerNorm norm_{nullptr};
  AdaptedLinear fc1_{nullptr}, fc2_{nullptr};
  torch::Tensor layer_scale_;
  double drop_path_;
};
TORCH_MODULE(CNBlock);

class ConvNeXtImpl : public ImageClassifierImpl {
 public:
  ConvNeXtImpl(int64_t num_classes, int64_t in_channels)
      : ImageClassifierImpl("convnext_tiny", "classifier.2") {
    // (channels, blocks) per stage; a 2x2 stride-2 convolution doubles channels in between.
    constexpr int64_t kDims[] = {96, 192, 384, 768};
    constexpr int64_t kDepths[] = {3, 3, 9, 3};
    int64_t total = 0;
    for (int64_t d : kDepths) total += d;
    nn::Sequential features;
    features->push_back(ConvNormAct(in_channels, kDims[0], 4, 4, kEps));
    int64_t block_id = 0;
    for (size_t s = 0; s < std::size(kDims); ++s) {
      Stack stage;
      for (int64_t i = 0; i < kDepths[s]; ++i) {
        const double p = kConvNextStochasticDepth * static_cast<double>(block_id++) / (total - 1.0);
        stage->push_back(CNBlock(kDims[s], p));
      }
      features->push_back(stage);
      if (s + 1 < std::size(kDims)) {
        features->push_back(
            Stack(LayerNorm2d(kDims[s], kEps), Conv(kDims[s], kDims[s + 1], 2, 2, 0, 1, true)));
      }
    }
    features_ = register_module("features", features);
    auto classifier = Container(*this, "classifier");
    norm_ = classifier->register_module("0", LayerNorm2d(kDims[3], kEps));
    SetHead(nn::Linear(kDims[3], num_classes));

    // torchvision's initialisation.
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<nn::Conv2d>()) {
        TruncNormal(conv->weight, 0.02);
        nn::init::zeros_(conv->bias);
      } else if (auto* linear = m->as<nn::Linear>()) {
        TruncNormal(linear->weight, 0.02);
        nn::init::zeros_(linear->bias);
      }
    }
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = norm_(AveragePool(features_->forward(x), 1)).flatten(1);
    return head_(x);
  }

 private:
  nn::Sequential features_{nullptr};
  LayerNorm2d norm_{nullptr};
};

}  // namespace

Model MakeConvNeXtTiny(int64_t num_classes, int64_t in_channels) {
  return std::make_shared<ConvNeXtImpl>(num_classes, in_channels);
}

}  // namespace vrepo::train::blocks
