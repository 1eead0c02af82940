#include "vrepo/train/lora.h"

#include <fnmatch.h>
#include <torch/nn.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "vrepo/train/attention.h"

namespace vrepo::train {
namespace {

namespace nn = torch::nn;

constexpr const char* kLoraA = ".lora.A.weight";
constexpr const char* kLoraB = ".lora.B.weight";

bool IsGlob(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

// An exact name, a module path prefix at a dot, or a glob whose '*' crosses dots.
bool Matches(const std::string& pattern, const std::string& name) {
  if (IsGlob(pattern)) return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
  return name == pattern ||
         (name.size() > pattern.size() && name.starts_with(pattern) && name[pattern.size()] == '.');
}

std::string ShapeText(const torch::Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

// A layer that can carry an adapter: its name and, for one that cannot take LoRA, why.
struct Candidate {
  std::string name;
  AdaptedConv2dImpl* conv = nullptr;
  AdaptedLinearImpl* linear = nullptr;
  SelfAttentionImpl* attention = nullptr;  // its packed q, k, v in-projection
  std::string ineligible;
};

std::vector<Candidate> Candidates(ImageClassifierImpl& model) {
  std::vector<Candidate> out;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    Candidate c;
    c.name = item.key();
    c.conv = dynamic_cast<AdaptedConv2dImpl*>(item.value().get());
    c.linear = dynamic_cast<AdaptedLinearImpl*>(item.value().get());
    c.attention = dynamic_cast<SelfAttentionImpl*>(item.value().get());
    if (c.conv == nullptr && c.linear == nullptr && c.attention == nullptr) continue;
    if (c.conv != nullptr && c.conv->options.groups() != 1) {
      c.ineligible = "is a grouped convolution (groups " +
                     std::to_string(c.conv->options.groups()) +
                     "): its merged update would not be grouped";
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

double LoraScale(int rank, double alpha) {
  return rank > 0 ? (alpha > 0 ? alpha : rank) / rank : 0.0;
}

std::vector<std::string> DefaultLoraTargets(const std::string& arch) {
  if (arch.starts_with("vit")) return {"*.self_attention", "*.self_attention.*", "*.mlp.*"};
  return {"*"};
}

LoraLinearImpl::LoraLinearImpl(int64_t in, int64_t out, int rank, double scale) : scale_(scale) {
  a_ = register_module("A", nn::Linear(nn::LinearOptions(in, rank).bias(false)));
  b_ = register_module("B", nn::Linear(nn::LinearOptions(rank, out).bias(false)));
  torch::NoGradGuard no_grad;
  nn::init::kaiming_uniform_(a_->weight, std::sqrt(5.0));
  b_->weight.zero_();
}

torch::Tensor LoraLinearImpl::forward(const torch::Tensor& input) {
  torch::Tensor out = b_(a_(input));
  return scale_ == 1.0 ? out : out * scale_;
}

LoraConv2dImpl::LoraConv2dImpl(const nn::detail::ConvNdOptions<2>& layer, int rank, double scale)
    : scale_(scale) {
  a_ = register_module("A",
                       nn::Conv2d(nn::Conv2dOptions(layer.in_channels(), rank, layer.kernel_size())
                                      .stride(layer.stride())
                                      .padding(layer.padding())
                                      .dilation(layer.dilation())
                                      .padding_mode(layer.padding_mode())
                                      .bias(false)));
  b_ = register_module("B",
                       nn::Conv2d(nn::Conv2dOptions(rank, layer.out_channels(), 1).bias(false)));
  torch::NoGradGuard no_grad;
  nn::init::kaiming_uniform_(a_->weight, std::sqrt(5.0));
  b_->weight.zero_();
}

torch::Tensor LoraConv2dImpl::forward(const torch::Tensor& input) {
  torch::Tensor out = b_(a_(input));
  return scale_ == 1.0 ? out : out * scale_;
}

Result<std::vector<std::string>> ApplyLora(ImageClassifierImpl& model, const LoraOptions& options) {
  if (options.rank < 1 || options.rank > kMaxLoraRank) {
    return Status::InvalidArgument("--lora: rank " + std::to_string(options.rank) +
                                   " is not between 1 and " + std::to_string(kMaxLoraRank));
  }
  if (!(options.alpha >= 0) || !std::isfinite(options.alpha)) {
    return Status::InvalidArgument("--lora-alpha must be a positive number (0: the rank)");
  }
  const bool defaults = options.targets.empty();
  const std::vector<std::string> targets =
      defaults ? DefaultLoraTargets(model.name()) : options.targets;
  std::vector<Candidate> candidates = Candidates(model);
  std::vector<bool> chosen(candidates.size(), false);
  for (const std::string& pattern : targets) {
    size_t matched = 0, eligible = 0;
    const Candidate* refused = nullptr;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (!Matches(pattern, candidates[i].name)) continue;
      ++matched;
      if (!candidates[i].ineligible.empty()) {
        if (refused == nullptr) refused = &candidates[i];
        continue;
      }
      ++eligible;
      chosen[i] = true;
    }
    if (matched == 0) {
      return Status::InvalidArgument("--lora-targets '" + pattern +
                                     "': matches no convolution or linear layer of " +
                                     model.name() + " (the head fc is always trained in full)");
    }
    // A glob (and the defaults) skips what cannot take an adapter; a named layer or module
    // path that holds one is refused, so that nothing the user named is silently left out.
    if (refused != nullptr && ((!IsGlob(pattern) && !defaults) || eligible == 0)) {
      return Status::InvalidArgument("--lora-targets '" + pattern + "': layer " + refused->name +
                                     " " + refused->ineligible);
    }
  }
  std::vector<std::string> layers;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (chosen[i]) layers.push_back(candidates[i].name);
  }
  if (layers.empty()) {
    return Status::InvalidArgument("--lora: model " + model.name() +
                                   " has no layer that can take an adapter");
  }

  const double scale = LoraScale(options.rank, options.alpha);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!chosen[i]) continue;
    Candidate& c = candidates[i];
    if (c.conv != nullptr) {
      c.conv->SetAdapter(std::make_shared<LoraConv2dImpl>(c.conv->options, options.rank, scale));
    } else if (c.attention != nullptr) {
      // The packed in-projection is a Linear(E, 3E) whose weight is in_proj_weight.
      const int64_t e = c.attention->embed_dim();
      c.attention->SetAdapter(std::make_shared<LoraLinearImpl>(e, 3 * e, options.rank, scale));
    } else {
      c.linear->SetAdapter(std::make_shared<LoraLinearImpl>(
          c.linear->options.in_features(), c.linear->options.out_features(), options.rank, scale));
    }
  }
  // Only the adapters and the head train; every batch norm keeps the base's statistics.
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    item.value().set_requires_grad(IsLoraTensor(item.key()) ||
                                   item.key().starts_with(model.head_name() + "."));
  }
  auto& bns = model.frozen_batch_norms();
  bns.clear();
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (m->as<nn::BatchNorm2d>() != nullptr) bns.push_back(m);
  }
  model.train(model.is_training());
  return layers;
}

bool IsLoraTensor(const std::string& name) {
  return name.starts_with("lora.") || name.find(".lora.") != std::string::npos;
}

Result<TensorMap> MergeLora(TensorMap state, double scale) {
  std::vector<std::string> adapters;
  for (const auto& [name, t] : state) {
    // A layer at the root (a lone AdaptedLinear) has the prefix "": "lora.A.weight".
    if (("." + name).ends_with(kLoraA)) {
      adapters.push_back(
          name.size() >= strlen(kLoraA) ? name.substr(0, name.size() - strlen(kLoraA)) : "");
    }
  }
  torch::NoGradGuard no_grad;
  for (const std::string& layer : adapters) {
    auto key = [&](const char* suffix) {
      return layer.empty() ? std::string(suffix + 1) : layer + suffix;
    };
    auto a = state.find(key(kLoraA));
    auto b = state.find(key(kLoraB));
    auto w = state.find(key(".weight"));
    // ViT's attention adapts its packed in-projection (attention.h).
    if (w == state.end()) w = state.find(key(".in_proj_weight"));
    if (b == state.end()) return Status::Corruption("adapter " + layer + ": no " + layer + kLoraB);
    if (w == state.end()) {
      return Status::Corruption("adapter " + layer + ": the base has no " + layer + ".weight");
    }
    const torch::Tensor& wt = w->second;
    // In float64, so that the merge adds no rounding beyond the final cast.
    torch::Tensor a2 = a->second.to(torch::kFloat64).flatten(1);
    torch::Tensor b2 = b->second.to(torch::kFloat64).flatten(1);
    const bool composes = a2.size(0) == b2.size(1) && b2.size(0) == wt.size(0) &&
                          a2.size(1) * wt.size(0) == wt.numel() &&
                          (a->second.dim() == 2 || b->second.dim() == 4);
    if (!composes) {
      return Status::Corruption("adapter " + layer + ": A " + ShapeText(a->second) + " and B " +
                                ShapeText(b->second) + " do not compose to the weight's " +
                                ShapeText(wt));
    }
    torch::Tensor delta = torch::matmul(b2, a2).reshape(wt.sizes());
    w->second = (wt.to(torch::kFloat64) + scale * delta).to(wt.scalar_type()).contiguous();
    state.erase(a);
    state.erase(b);
  }
  for (const auto& [name, t] : state) {
    if (IsLoraTensor(name)) return Status::Corruption("adapter tensor " + name + " has no A");
  }
  return state;
}

}  // namespace vrepo::train
