// Building blocks shared by the architectures in models.cc, mobilenet.cc, efficientnet.cc,
// convnext.cc and vit.cc (private to src/train): torchvision's Conv2dNormActivation,
// squeeze-excitation, stochastic depth, LayerNorm2d and initialisers, each with torchvision's
// registration names. Every convolution is an AdaptedConv2d so that LoRA can be installed, and
// every batch norm a vrepo BatchNorm2d so that SetSyncBatchNorm reaches it.
// Modules are used by one thread.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include <memory>
#include <string>

#include "vrepo/train/layers.h"
#include "vrepo/train/models.h"
#include "vrepo/train/sync_batch_norm.h"

namespace vrepo::train::blocks {

enum class Activation { kNone, kReLU, kHardswish, kSiLU, kSigmoid, kHardsigmoid };
torch::Tensor Activate(const torch::Tensor& x, Activation a);

// A convolution (bias off, torchvision's padding (k-1)/2), optionally with groups.
AdaptedConv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                   int64_t groups = 1, bool bias = false);

// adaptive_avg_pool2d to an `out` x `out` grid through ops whose CUDA backward is
// deterministic where the sizes allow it (see models.cc).
torch::Tensor AveragePool(const torch::Tensor& x, int64_t out);

// torchvision.ops.stochastic_depth in "row" mode: in training, each sample's residual branch is
// zeroed with probability p (drawn from torch's generator, so seeded runs repeat) and the
// survivors scaled by 1/(1-p).
torch::Tensor StochasticDepth(const torch::Tensor& x, double p, bool training);

// torchvision's LayerNorm2d: layer norm over the channels of [N, C, H, W]; "weight", "bias".
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  LayerNorm2dImpl(int64_t channels, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;

 private:
  int64_t channels_;
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

// Conv2dNormActivation: "0" the convolution, "1" the norm (batch norm with `bn`'s eps and
// momentum, or none), then the activation.
class ConvNormActImpl : public torch::nn::Module {
 public:
  ConvNormActImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                  const torch::nn::BatchNormOptions& bn, Activation act);
  // The ConvNeXt stem: a biased convolution with no padding, then LayerNorm2d(eps 1e-6).
  ConvNormActImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, double ln_eps);
  torch::Tensor forward(torch::Tensor x);

 private:
  AdaptedConv2d conv_{nullptr};
  BatchNorm2d bn_{nullptr};
  LayerNorm2d ln_{nullptr};
  Activation act_;
};
TORCH_MODULE(ConvNormAct);

// torchvision.ops.SqueezeExcitation: "fc1", "fc2" (biased 1x1 convolutions).
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze, Activation act, Activation scale);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  AdaptedConv2d fc1_{nullptr}, fc2_{nullptr};
  Activation act_, scale_;
};
TORCH_MODULE(SqueezeExcitation);

// nn::Sequential that can sit inside another one (AnyModule needs a forward with fixed types):
// the stages of "features" in EfficientNet and ConvNeXt.
class StackImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(const torch::Tensor& x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(Stack);

// torchvision's _make_divisible: `v` rounded to a multiple of `divisor`, never 10% below.
int64_t MakeDivisible(double v, int64_t divisor = 8);

// torch.nn.init.trunc_normal_(t, 0, std, -2, 2) (values in absolute units, as torch's are).
void TruncNormal(torch::Tensor t, double std);

// A module without forward registered on `parent` as `name`: it only gives nested names
// ("classifier" of "classifier.3"); the model's forward calls the layers it holds.
std::shared_ptr<torch::nn::Module> Container(torch::nn::Module& parent, const std::string& name);

// The factories behind MakeModel for the families in their own files.
Model MakeMobileNetV3Large(int64_t num_classes, int64_t in_channels);
Model MakeEfficientNetB0(int64_t num_classes, int64_t in_channels);
Model MakeConvNeXtTiny(int64_t num_classes, int64_t in_channels);
Model MakeViTB16(int64_t num_classes, int64_t in_channels, int64_t input_size);

}  // namespace vrepo::train::blocks
