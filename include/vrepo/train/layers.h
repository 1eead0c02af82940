// The convolution and linear layers every architecture is built from: torch's own, plus an
// optional adapter run beside the layer (y = layer(x) + adapter(x)). Parameter-efficient
// fine-tuning (LoRA) installs adapters; without one a layer is exactly torch's, with torch's
// parameter names. Used by one thread, like the model that holds it.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <memory>

namespace vrepo::train {

// A module added in parallel to a layer: it sees the layer's input and returns a tensor of
// the layer's output shape.
class AdapterImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;
};

// The registered name of a layer's adapter: "<layer>.lora.*" in a state dict.
constexpr const char* kAdapterName = "lora";

class AdaptedConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  torch::Tensor forward(const torch::Tensor& input);
  // Registers `adapter` as submodule kAdapterName, replacing any; nullptr removes it.
  void SetAdapter(std::shared_ptr<AdapterImpl> adapter);
  const std::shared_ptr<AdapterImpl>& adapter() const { return adapter_; }

 private:
  std::shared_ptr<AdapterImpl> adapter_;
};
TORCH_MODULE(AdaptedConv2d);

class AdaptedLinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;
  torch::Tensor forward(const torch::Tensor& input);
  // Registers `adapter` as submodule kAdapterName, replacing any; nullptr removes it.
  void SetAdapter(std::shared_ptr<AdapterImpl> adapter);
  const std::shared_ptr<AdapterImpl>& adapter() const { return adapter_; }

 private:
  std::shared_ptr<AdapterImpl> adapter_;
};
TORCH_MODULE(AdaptedLinear);

}  // namespace vrepo::train
