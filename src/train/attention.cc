#include "vrepo/train/attention.h"

#include <torch/nn/init.h>
#include <torch/nn/options/linear.h>

#include <cmath>
#include <stdexcept>
#include <utility>

namespace vrepo::train {

SelfAttentionImpl::SelfAttentionImpl(int64_t embed_dim, int64_t num_heads)
    : embed_dim_(embed_dim), num_heads_(num_heads) {
  if (num_heads <= 0 || embed_dim % num_heads != 0) {
    throw std::invalid_argument("self-attention: embedding size " + std::to_string(embed_dim) +
                                " is not a multiple of the head count " +
                                std::to_string(num_heads));
  }
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * embed_dim, embed_dim}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * embed_dim}));
  out_proj = register_module("out_proj", AdaptedLinear(embed_dim, embed_dim));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::nn::init::zeros_(out_proj->bias);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), l = x.size(1), head_dim = embed_dim_ / num_heads_;
  torch::Tensor qkv = torch::linear(x, in_proj_weight, in_proj_bias);
  if (adapter_) qkv = qkv + adapter_->forward(x);
  // [N, L, 3E] -> 3 x [N, heads, L, head_dim]
  auto split = qkv.view({n, l, 3, num_heads_, head_dim}).permute({2, 0, 3, 1, 4});
  // The query is scaled before the product, as torch's attention does.
  torch::Tensor q = split[0] * (1.0 / std::sqrt(static_cast<double>(head_dim)));
  torch::Tensor attn = torch::softmax(torch::matmul(q, split[1].transpose(-2, -1)), -1);
  torch::Tensor out = torch::matmul(attn, split[2]).transpose(1, 2).reshape({n, l, embed_dim_});
  return out_proj(out);
}

void SelfAttentionImpl::SetAdapter(std::shared_ptr<AdapterImpl> adapter) {
  if (adapter_) unregister_module(kAdapterName);
  adapter_ = std::move(adapter);
  if (adapter_) register_module(kAdapterName, adapter_);
}

}  // namespace vrepo::train
