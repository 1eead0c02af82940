// LoRA (low-rank adaptation): adapters installed in the AdaptedConv2d / AdaptedLinear slots of
// a model (layers.h), the freezing that goes with them (base frozen, batch norm in eval mode,
// head trained in full), and the merge of trained adapters into the base weights for export.
// A model and its adapters are used by one thread; MergeLora is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrepo/train/layers.h"
#include "vrepo/train/models.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct LoraOptions {
  int rank = 0;      // 1..kMaxLoraRank
  double alpha = 0;  // the update is scaled by alpha / rank; 0 means alpha = rank (scale 1)
  // Name patterns over the model's dotted layer names: a module path ("layer4" adapts every
  // layer under it), an exact layer name, or a glob ("*.conv2", '*' crosses dots). Empty means
  // DefaultLoraTargets(architecture).
  std::vector<std::string> targets;
};

constexpr int kMaxLoraRank = 1024;

// alpha / rank, with alpha = rank when alpha is 0.
double LoraScale(int rank, double alpha);

// The architecture's default targets: every convolution that can take an adapter for CNNs;
// the attention projections (the packed q, k, v in-projection and out_proj) and MLP linears
// for ViTs.
std::vector<std::string> DefaultLoraTargets(const std::string& arch);

// y = scale * B(A(x)) with A = Linear(in, rank), B = Linear(rank, out), no biases.
class LoraLinearImpl : public AdapterImpl {
 public:
  LoraLinearImpl(int64_t in, int64_t out, int rank, double scale);
  torch::Tensor forward(const torch::Tensor& input) override;

 private:
  torch::nn::Linear a_{nullptr}, b_{nullptr};
  double scale_;
};

// y = scale * B(A(x)) with A a convolution with the layer's kernel, stride, padding and
// dilation to `rank` channels and B a 1x1 convolution back to the layer's outputs.
class LoraConv2dImpl : public AdapterImpl {
 public:
  LoraConv2dImpl(const torch::nn::detail::ConvNdOptions<2>& layer, int rank, double scale);
  torch::Tensor forward(const torch::Tensor& input) override;

 private:
  torch::nn::Conv2d a_{nullptr}, b_{nullptr};
  double scale_;
};

// Installs an adapter in every layer `options.targets` selects (A drawn from torch's global
// generator as peft does, kaiming-uniform with a = sqrt(5); B zero, so the model's outputs are
// unchanged until it trains), freezes everything but the adapters and the head "fc", and keeps
// every batch-norm layer in eval mode. Returns the adapted layers' names in model order.
// InvalidArgument naming the pattern or layer when a pattern matches no conv or linear layer,
// when it names a layer that cannot take an adapter (a grouped convolution, whose merged update
// would not be grouped), or when nothing is selected; the model is unchanged then.
Result<std::vector<std::string>> ApplyLora(ImageClassifierImpl& model, const LoraOptions& options);

// True for the names of adapter tensors ("<layer>.lora.A.weight", "<layer>.lora.B.weight").
bool IsLoraTensor(const std::string& name);

// `state` with every adapter folded into its layer's weight (W + scale * B @ A; for a
// convolution the merged kernel, exact since A and B are linear and B is 1x1) and the adapter
// tensors removed. Corruption naming the tensor when an adapter lacks its A, B or layer
// weight or their shapes do not compose.
Result<TensorMap> MergeLora(TensorMap state, double scale);

}  // namespace vrepo::train
