// ViT-B/16 as torchvision/models/vision_transformer.py builds it (patch embedding, class
// token, learned positional embedding, pre-norm encoder blocks with torch's multi-head
// attention), module for module: the registration names are the keys of torchvision's state
// dicts.
#include <torch/nn.h>

#include <cmath>
#include <stdexcept>

#include "model_blocks.h"
#include "vrepo/train/attention.h"

namespace vrepo::train::blocks {
namespace {
namespace nn = torch::nn;

constexpr int64_t kPatch = 16;
constexpr int64_t kLayers = 12;
constexpr int64_t kAttentionHeads = 12;
constexpr int64_t kHidden = 768;
constexpr int64_t kMlp = 3072;
constexpr double kEps = 1e-6;

nn::LayerNorm Norm() { return nn::LayerNorm(nn::LayerNormOptions({kHidden}).eps(kEps)); }

class EncoderBlockImpl : public nn::Module {
 public:
  EncoderBlockImpl() {
    ln_1_ = register_module("ln_1", Norm());
    attention_ = register_module("self_attention", SelfAttention(kHidden, kAttentionHeads));
    ln_2_ = register_module("ln_2", Norm());
    auto mlp = Container(*this, "mlp");
    fc1_ = mlp->register_module("0", AdaptedLinear(kHidden, kMlp));
    fc2_ = mlp->register_module("3", AdaptedLinear(kMlp, kHidden));
    torch::NoGradGuard no_grad;
    for (auto* fc : {fc1_.get(), fc2_.get()}) {
      nn::init::xavier_uniform_(fc->weight);
      nn::init::normal_(fc->bias, 0, 1e-6);
    }
  }

  torch::Tensor forward(const torch::Tensor& input) {
    torch::Tensor x = attention_(ln_1_(input)) + input;
    return x + fc2_(torch::gelu(fc1_(ln_2_(x))));
  }

 private:
  nn::LayerNorm ln_1_{nullptr}, ln_2_{nullptr};
  SelfAttention attention_{nullptr};
  AdaptedLinear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(EncoderBlock);

class ViTImpl : public ImageClassifierImpl {
 public:
  ViTImpl(int64_t num_classes, int64_t in_channels, int64_t input_size)
      : ImageClassifierImpl("vit_b_16", "heads.head", input_size) {
    conv_proj_ = register_module("conv_proj", Conv(in_channels, kHidden, kPatch, kPatch, 0, 1,
                                                   /*bias=*/true));
    const int64_t side = input_size / kPatch;
    class_token_ = register_parameter("class_token", torch::zeros({1, 1, kHidden}));
    auto encoder = Container(*this, "encoder");
    pos_embedding_ = encoder->register_parameter(
        "pos_embedding", torch::empty({1, side * side + 1, kHidden}).normal_(0, 0.02));
    auto layers = Container(*encoder, "layers");
    for (int64_t i = 0; i < kLayers; ++i) {
      layers_.push_back(
          layers->register_module("encoder_layer_" + std::to_string(i), EncoderBlock()));
    }
    ln_ = encoder->register_module("ln", Norm());
    Container(*this, "heads");
    SetHead(nn::Linear(kHidden, num_classes));

    // torchvision's initialisation of the patch embedding and the head.
    torch::NoGradGuard no_grad;
    TruncNormal(conv_proj_->weight,
                std::sqrt(1.0 / static_cast<double>(in_channels * kPatch * kPatch)));
    nn::init::zeros_(conv_proj_->bias);
    nn::init::zeros_(head_->weight);
    nn::init::zeros_(head_->bias);
  }

  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() != 4 || x.size(2) != input_size() || x.size(3) != input_size()) {
      const std::string got = x.dim() == 4
                                  ? std::to_string(x.size(2)) + "x" + std::to_string(x.size(3))
                                  : std::to_string(x.dim()) + "-D";
      throw std::invalid_argument("model vit_b_16: input is " + got +
                                  " but the model is built for " + std::to_string(input_size()) +
                                  "x" + std::to_string(input_size()) + " images");
    }
    const int64_t n = x.size(0);
    // [N, C, H, W] -> [N, patches, hidden], then the class token in front.
    x = conv_proj_(x).reshape({n, kHidden, -1}).permute({0, 2, 1});
    x = torch::cat({class_token_.expand({n, -1, -1}), x}, 1) + pos_embedding_;
    for (auto& layer : layers_) x = layer(x);
    x = ln_(x).select(1, 0);
    return head_(x);
  }

 private:
  AdaptedConv2d conv_proj_{nullptr};
  torch::Tensor class_token_, pos_embedding_;
  std::vector<EncoderBlock> layers_;
  nn::LayerNorm ln_{nullptr};
};

}  // namespace

Model MakeViTB16(int64_t num_classes, int64_t in_channels, int64_t input_size) {
  return std::make_shared<ViTImpl>(num_classes, in_channels, input_size);
}

}  // namespace vrepo::train::blocks
