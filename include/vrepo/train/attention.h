// Multi-head self-attention laid out as torch.nn.MultiheadAttention (batch_first), the layer
// ViT's encoder blocks use: parameters "in_proj_weight" [3E, E] and "in_proj_bias" [3E] pack
// the q, k, v projections, "out_proj" is an AdaptedLinear(E, E). Used by one thread.
//
// Adapter contract (what LoRA relies on): the packed in-projection is not a Linear module, so
// this layer carries the same adapter slot as AdaptedLinear. An installed adapter is
// registered as submodule kAdapterName ("lora"), sees the block's input [N, L, E] and returns
// [N, L, 3E], which is added to the packed projection's output before it is split into q, k
// and v: it behaves exactly like an adapter on a Linear(E, 3E) whose weight is
// in_proj_weight. out_proj is an ordinary AdaptedLinear with its own slot.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>

#include "vrepo/train/layers.h"

namespace vrepo::train {

class SelfAttentionImpl : public torch::nn::Module {
 public:
  // torch's initialisation: xavier-uniform in_proj_weight, zero biases.
  SelfAttentionImpl(int64_t embed_dim, int64_t num_heads);

  // [N, L, E] -> [N, L, E]; no mask, no dropout (torchvision's ViT uses neither).
  torch::Tensor forward(const torch::Tensor& x);

  // Registers `adapter` as submodule kAdapterName, replacing any; nullptr removes it.
  void SetAdapter(std::shared_ptr<AdapterImpl> adapter);
  const std::shared_ptr<AdapterImpl>& adapter() const { return adapter_; }

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  torch::Tensor in_proj_weight, in_proj_bias;
  AdaptedLinear out_proj{nullptr};

 private:
  int64_t embed_dim_;
  int64_t num_heads_;
  std::shared_ptr<AdapterImpl> adapter_;
};
TORCH_MODULE(SelfAttention);

}  // namespace vrepo::train
