#include "vrepo/train/models.h"

#include <torch/nn.h>
#include <torch/utils.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "model_blocks.h"
#include "vrepo/train/layers.h"
#include "vrepo/train/sync_batch_norm.h"

namespace vrepo::train {
namespace nn = torch::nn;

namespace {

using blocks::AveragePool;
using blocks::Conv;

std::vector<ModelStage> Numbered(const std::string& name_prefix, const std::string& path_prefix,
                                 int first, int last) {
  std::vector<ModelStage> stages;
  for (int i = first; i <= last; ++i) {
    stages.push_back({name_prefix + std::to_string(i), {path_prefix + std::to_string(i)}});
  }
  return stages;
}

// The stages "until:STAGE" freezes, per architecture, in forward order. ResNets keep their
// historical names (until:layer2 freezes the stem, layer1 and layer2); the torchvision
// families use the indices of their "features" container; ViT its patch embedding and blocks.
std::vector<ModelStage> StagesOf(const std::string& name) {
  if (name == "small-cnn") return Numbered("layer", "layer", 1, 3);
  if (name.rfind("resnet", 0) == 0) {
    std::vector<ModelStage> stages = {{"stem", {"conv1", "bn1"}}};
    for (auto& s : Numbered("layer", "layer", 1, 4)) stages.push_back(std::move(s));
    return stages;
  }
  if (name == "mobilenet_v3_large") return Numbered("features.", "features.", 0, 16);
  if (name == "efficientnet_b0") return Numbered("features.", "features.", 0, 8);
  if (name == "convnext_tiny") return Numbered("features.", "features.", 0, 7);
  if (name == "vit_b_16") {
    std::vector<ModelStage> stages = {
        {"conv_proj", {"conv_proj", "class_token", "encoder.pos_embedding"}}};
    for (auto& s : Numbered("encoder_layer_", "encoder.layers.encoder_layer_", 0, 11)) {
      stages.push_back(std::move(s));
    }
    return stages;
  }
  return {};
}

// True when dotted `name` is `prefix` or lies below it.
bool Under(const std::string& name, const std::string& prefix) {
  return name.size() >= prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
         (name.size() == prefix.size() || name[prefix.size()] == '.');
}

}  // namespace

ImageClassifierImpl::ImageClassifierImpl(std::string name, std::string head_name,
                                         int64_t input_size)
    : name_(std::move(name)),
      head_name_(std::move(head_name)),
      input_size_(input_size),
      stages_(StagesOf(name_)) {}

void ImageClassifierImpl::SetHead(nn::Linear head) {
  nn::Module* parent = this;
  std::shared_ptr<nn::Module> holder;
  std::string leaf = head_name_;
  if (auto dot = head_name_.rfind('.'); dot != std::string::npos) {
    holder = named_modules("", /*include_self=*/false)[head_name_.substr(0, dot)];
    parent = holder.get();
    leaf = head_name_.substr(dot + 1);
  }
  head_ = parent->named_children().contains(leaf) ? parent->replace_module(leaf, head)
                                                  : parent->register_module(leaf, head);
}

void ImageClassifierImpl::train(bool on) {
  nn::Module::train(on);
  if (on) KeepFrozenBatchNormInEval(*this);
}

namespace blocks {

torch::Tensor Activate(const torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::kNone:
      return x;
    case Activation::kReLU:
      return torch::relu(x);
    case Activation::kHardswish:
      return torch::hardswish(x);
    case Activation::kSiLU:
      return torch::silu(x);
    case Activation::kSigmoid:
      return torch::sigmoid(x);
    case Activation::kHardsigmoid:
      return torch::hardsigmoid(x);
  }
  return x;
}

AdaptedConv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                   int64_t groups, bool bias) {
  return AdaptedConv2d(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).groups(groups).bias(bias));
}

// Same values as adaptive_avg_pool2d, through ops whose CUDA backward is deterministic where
// the sizes allow it: adaptive_avg_pool2d's backward on CUDA adds with atomics, which
// --deterministic refuses. A plain mean for 1x1, a copy when the input already is the grid,
// avg_pool2d when the input side is a multiple of the grid's.
torch::Tensor AveragePool(const torch::Tensor& x, int64_t out) {
  const int64_t h = x.size(-2), w = x.size(-1);
  if (h == out && w == out) return x;
  if (out == 1) return x.mean({-2, -1}, /*keepdim=*/true);
  if (h % out == 0 && w % out == 0) {
    return torch::avg_pool2d(x, {h / out, w / out}, {h / out, w / out});
  }
  return torch::adaptive_avg_pool2d(x, {out, out});
}

torch::Tensor StochasticDepth(const torch::Tensor& x, double p, bool training) {
  if (!training || p == 0.0) return x;
  const double survival = 1.0 - p;
  std::vector<int64_t> size(x.dim(), 1);
  size[0] = x.size(0);
  torch::Tensor noise = torch::empty(size, x.options()).bernoulli_(survival);
  if (survival > 0.0) noise.div_(survival);
  return x * noise;
}

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps) : channels_(channels), eps_(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x.permute({0, 2, 3, 1}), {channels_}, weight, bias, eps_)
      .permute({0, 3, 1, 2});
}

ConvNormActImpl::ConvNormActImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                 int64_t groups, const nn::BatchNormOptions& bn, Activation act)
    : act_(act) {
  conv_ = register_module("0", Conv(in, out, kernel, stride, (kernel - 1) / 2, groups));
  bn_ = register_module("1", BatchNorm2d(nn::BatchNormOptions(bn).num_features(out)));
}

ConvNormActImpl::ConvNormActImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                                 double ln_eps)
    : act_(Activation::kNone) {
  conv_ = register_module("0", Conv(in, out, kernel, stride, 0, 1, /*bias=*/true));
  ln_ = register_module("1", LayerNorm2d(out, ln_eps));
}

torch::Tensor ConvNormActImpl::forward(torch::Tensor x) {
  x = conv_(x);
  x = bn_ ? bn_(x) : ln_(x);
  return Activate(x, act_);
}

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t channels, int64_t squeeze, Activation act,
                                             Activation scale)
    : act_(act), scale_(scale) {
  fc1_ = register_module("fc1", Conv(channels, squeeze, 1, 1, 0, 1, /*bias=*/true));
  fc2_ = register_module("fc2", Conv(squeeze, channels, 1, 1, 0, 1, /*bias=*/true));
}

torch::Tensor SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  torch::Tensor s = Activate(fc1_(AveragePool(x, 1)), act_);
  return Activate(fc2_(s), scale_) * x;
}

int64_t MakeDivisible(double v, int64_t divisor) {
  int64_t out =
      std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(out) < 0.9 * v) out += divisor;
  return out;
}

void TruncNormal(torch::Tensor t, double std) {
  // torch.nn.init._no_grad_trunc_normal_: inverse CDF of a uniform draw.
  torch::NoGradGuard no_grad;
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double lo = cdf(-2.0 / std), hi = cdf(2.0 / std);
  t.uniform_(2 * lo - 1, 2 * hi - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(-2.0, 2.0);
}

std::shared_ptr<nn::Module> Container(nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<nn::Module>());
}

}  // namespace blocks

namespace {

// Module layouts below follow torchvision/models/resnet.py line by line, including the
// registration names, because those names are the keys of every exported state dict.

nn::Sequential Downsample(int64_t in, int64_t out, int64_t stride) {
  return nn::Sequential(Conv(in, out, 1, stride, 0), BatchNorm2d(out));
}

class BasicBlockImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1_ = register_module("conv1", Conv(in, planes, 3, stride, 1));
    bn1_ = register_module("bn1", BatchNorm2d(planes));
    conv2_ = register_module("conv2", Conv(planes, planes, 3, 1, 1));
    bn2_ = register_module("bn2", BatchNorm2d(planes));
    if (stride != 1 || in != planes * kExpansion) {
      downsample_ = register_module("downsample", Downsample(in, planes * kExpansion, stride));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out = torch::relu(bn1_(conv1_(x)));
    out = bn2_(conv2_(out));
    out += downsample_ ? downsample_->forward(x) : x;
    return torch::relu(out);
  }

 private:
  AdaptedConv2d conv1_{nullptr}, conv2_{nullptr};
  BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

// ResNet v1.5: the stride sits on the 3x3 convolution, as in torchvision.
class BottleneckImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1_ = register_module("conv1", Conv(in, planes, 1, 1, 0));
    bn1_ = register_module("bn1", BatchNorm2d(planes));
    conv2_ = register_module("conv2", Conv(planes, planes, 3, stride, 1));
    bn2_ = register_module("bn2", BatchNorm2d(planes));
    conv3_ = register_module("conv3", Conv(planes, planes * kExpansion, 1, 1, 0));
    bn3_ = register_module("bn3", BatchNorm2d(planes * kExpansion));
    if (stride != 1 || in != planes * kExpansion) {
      downsample_ = register_module("downsample", Downsample(in, planes * kExpansion, stride));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out = torch::relu(bn1_(conv1_(x)));
    out = torch::relu(bn2_(conv2_(out)));
    out = bn3_(conv3_(out));
    out += downsample_ ? downsample_->forward(x) : x;
    return torch::relu(out);
  }

 private:
  AdaptedConv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public ImageClassifierImpl {
 public:
  template <class Block>
  static std::shared_ptr<ResNetImpl> Make(std::string name, const std::vector<int>& blocks,
                                          int64_t num_classes, int64_t in_channels) {
    auto net = std::shared_ptr<ResNetImpl>(new ResNetImpl(std::move(name)));
    net->Build<Block>(blocks, num_classes, in_channels);
    return net;
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(bn1_(conv1_(x)));
    x = torch::max_pool2d(x, 3, 2, 1);
    x = layer4_->forward(layer3_->forward(layer2_->forward(layer1_->forward(x))));
    x = AveragePool(x, 1).flatten(1);
    return head_(x);
  }

 private:
  explicit ResNetImpl(std::string name) : ImageClassifierImpl(std::move(name), "fc") {}

  template <class Block>
  void Build(const std::vector<int>& blocks, int64_t num_classes, int64_t in_channels) {
    conv1_ = register_module("conv1", Conv(in_channels, 64, 7, 2, 3));
    bn1_ = register_module("bn1", BatchNorm2d(64));
    int64_t in = 64;
    auto make_layer = [&](int64_t planes, int count, int64_t stride) {
      nn::Sequential layer;
      for (int i = 0; i < count; ++i) {
        layer->push_back(Block(in, planes, i == 0 ? stride : 1));
        in = planes * Block::Impl::kExpansion;
      }
      return layer;
    };
    layer1_ = register_module("layer1", make_layer(64, blocks[0], 1));
    layer2_ = register_module("layer2", make_layer(128, blocks[1], 2));
    layer3_ = register_module("layer3", make_layer(256, blocks[2], 2));
    layer4_ = register_module("layer4", make_layer(512, blocks[3], 2));
    SetHead(nn::Linear(in, num_classes));
    // torchvision's initialisation, so that training from scratch behaves the same.
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      }
    }
  }

  AdaptedConv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
};

// Three conv+bn+relu+pool stages for small gray images such as 28x28 Fashion-MNIST (28 -> 3x3).
// The head sees a 3x3 grid rather than a global average: on 5,000 Fashion-MNIST images, two
// epochs of AdamW reach 83% with the grid and 64% with global pooling. The adaptive pool keeps
// other image sizes working.
class SmallCnnImpl : public ImageClassifierImpl {
 public:
  SmallCnnImpl(int64_t num_classes, int64_t in_channels) : ImageClassifierImpl("small-cnn", "fc") {
    auto stage = [](int64_t in, int64_t out) {
      return nn::Sequential(Conv(in, out, 3, 1, 1), BatchNorm2d(out), nn::ReLU(),
                            nn::MaxPool2d(nn::MaxPool2dOptions(2)));
    };
    layer1_ = register_module("layer1", stage(in_channels, 32));
    layer2_ = register_module("layer2", stage(32, 64));
    layer3_ = register_module("layer3", stage(64, 128));
    SetHead(nn::Linear(128 * kGrid * kGrid, num_classes));
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = layer3_->forward(layer2_->forward(layer1_->forward(x)));
    x = AveragePool(x, kGrid).flatten(1);
    return head_(x);
  }

 private:
  static constexpr int64_t kGrid = 3;
  nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr};
};

}  // namespace

const std::vector<std::string>& ModelNames() {
  static const std::vector<std::string> names = {
      "small-cnn",          "resnet18",        "resnet34",      "resnet50",
      "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "vit_b_16"};
  return names;
}

std::string HeadName(const std::string& arch) {
  // As each architecture registers it (the constructors in models.cc and its family's file).
  static const std::map<std::string, std::string> heads = {{"small-cnn", "fc"},
                                                           {"resnet18", "fc"},
                                                           {"resnet34", "fc"},
                                                           {"resnet50", "fc"},
                                                           {"mobilenet_v3_large", "classifier.3"},
                                                           {"efficientnet_b0", "classifier.1"},
                                                           {"convnext_tiny", "classifier.2"},
                                                           {"vit_b_16", "heads.head"}};
  auto it = heads.find(arch);
  return it == heads.end() ? "" : it->second;
}

Result<Model> MakeModel(const std::string& name, int64_t num_classes, int64_t in_channels,
                        int64_t input_size) {
  if (num_classes <= 0 || in_channels <= 0 || input_size <= 0) {
    return Status::InvalidArgument("model " + name + ": class count (" +
                                   std::to_string(num_classes) + "), input channels (" +
                                   std::to_string(in_channels) + ") and input size (" +
                                   std::to_string(input_size) + ") must be positive");
  }
  try {
    if (name == "small-cnn") return Model(std::make_shared<SmallCnnImpl>(num_classes, in_channels));
    if (name == "resnet18") {
      return Model(ResNetImpl::Make<BasicBlock>(name, {2, 2, 2, 2}, num_classes, in_channels));
    }
    if (name == "resnet34") {
      return Model(ResNetImpl::Make<BasicBlock>(name, {3, 4, 6, 3}, num_classes, in_channels));
    }
    if (name == "resnet50") {
      return Model(ResNetImpl::Make<Bottleneck>(name, {3, 4, 6, 3}, num_classes, in_channels));
    }
    if (name == "mobilenet_v3_large") return blocks::MakeMobileNetV3Large(num_classes, in_channels);
    if (name == "efficientnet_b0") return blocks::MakeEfficientNetB0(num_classes, in_channels);
    if (name == "convnext_tiny") return blocks::MakeConvNeXtTiny(num_classes, in_channels);
    if (name == "vit_b_16") {
      if (input_size % 16 != 0) {
        return Status::InvalidArgument("model vit_b_16: input size " + std::to_string(input_size) +
                                       " is not a multiple of its 16-pixel patches");
      }
      return blocks::MakeViTB16(num_classes, in_channels, input_size);
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument("model " + name + ": cannot build: " + e.what());
  }
  std::string valid;
  for (const auto& n : ModelNames()) valid += (valid.empty() ? "" : ", ") + n;
  return Status::InvalidArgument("unknown model '" + name + "' (valid: " + valid + ")");
}

Result<std::vector<std::string>> FreezeStages(const std::string& name) {
  const auto& names = ModelNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return Status::InvalidArgument("unknown model '" + name + "'");
  }
  std::vector<std::string> out;
  for (const auto& stage : StagesOf(name)) out.push_back(stage.name);
  return out;
}

std::string DescribeStages(const std::vector<std::string>& stages) {
  // Folds runs of names that differ only in a trailing number counting up by one.
  auto split = [](const std::string& s) {
    size_t i = s.size();
    while (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
    int n = i < s.size() ? std::atoi(s.c_str() + i) : -1;
    return std::make_pair(s.substr(0, i), n);
  };
  std::string out;
  for (size_t i = 0; i < stages.size();) {
    auto [prefix, first] = split(stages[i]);
    size_t j = i + 1;
    while (first >= 0 && j < stages.size() &&
           split(stages[j]) == std::make_pair(prefix, first + static_cast<int>(j - i))) {
      ++j;
    }
    out += (out.empty() ? "" : ", ") + stages[i];
    if (j - i > 2) {
      out += ".." + stages[j - 1];
    } else if (j - i == 2) {
      out += ", " + stages[j - 1];
    }
    i = j;
  }
  return out;
}

Status ReplaceHead(ImageClassifierImpl& model, int64_t num_classes) {
  if (num_classes <= 0) {
    return Status::InvalidArgument("model " + model.name() + ": class count " +
                                   std::to_string(num_classes) + " must be positive");
  }
  nn::Linear& old = model.head();
  nn::Linear head(old->options.in_features(), num_classes);
  head->to(old->weight.device(), old->weight.scalar_type());
  head->train(model.is_training());
  model.SetHead(head);
  return Status::OK();
}

Result<FreezeSpec> ParseFreezeSpec(std::string_view text) {
  FreezeSpec spec;
  if (text == "none") return spec;
  if (text == "backbone") {
    spec.kind = FreezeSpec::Kind::kBackbone;
    return spec;
  }
  constexpr std::string_view kPrefix = "until:";
  if (text.substr(0, kPrefix.size()) == kPrefix) {
    std::string_view stage = text.substr(kPrefix.size());
    auto valid = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
    };
    if (!stage.empty() && std::all_of(stage.begin(), stage.end(), valid)) {
      spec.kind = FreezeSpec::Kind::kUntilStage;
      spec.until_stage = std::string(stage);
      return spec;
    }
  }
  return Status::InvalidArgument("freeze '" + std::string(text) +
                                 "': expected none, backbone or until:STAGE");
}

std::string FreezeSpecToString(const FreezeSpec& spec) {
  switch (spec.kind) {
    case FreezeSpec::Kind::kNone:
      return "none";
    case FreezeSpec::Kind::kBackbone:
      return "backbone";
    case FreezeSpec::Kind::kUntilStage:
      return "until:" + spec.until_stage;
  }
  return "none";
}

Status CheckFreezeSpec(const std::string& model, const FreezeSpec& spec) {
  if (spec.kind != FreezeSpec::Kind::kUntilStage) return Status::OK();
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> stages, FreezeStages(model));
  if (std::find(stages.begin(), stages.end(), spec.until_stage) != stages.end()) {
    return Status::OK();
  }
  return Status::InvalidArgument("freeze " + FreezeSpecToString(spec) + ": model " + model +
                                 " has no stage '" + spec.until_stage +
                                 "' (stages: " + DescribeStages(stages) + ")");
}

Status Freeze(ImageClassifierImpl& model, const FreezeSpec& spec) {
  VREPO_RETURN_IF_ERROR(CheckFreezeSpec(model.name(), spec));
  // What until:STAGE freezes, as dotted prefixes of parameter and module names.
  std::vector<std::string> frozen;
  if (spec.kind == FreezeSpec::Kind::kUntilStage) {
    for (const auto& stage : model.stages()) {
      frozen.insert(frozen.end(), stage.prefixes.begin(), stage.prefixes.end());
      if (stage.name == spec.until_stage) break;
    }
  }
  auto is_frozen = [&](const std::string& name) {
    if (spec.kind == FreezeSpec::Kind::kBackbone) return !Under(name, model.head_name());
    return std::any_of(frozen.begin(), frozen.end(),
                       [&](const std::string& prefix) { return Under(name, prefix); });
  };

  auto& bns = model.frozen_batch_norms();
  bns.clear();
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    item.value().set_requires_grad(!is_frozen(item.key()));
  }
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    if (item.value()->as<nn::BatchNorm2d>() != nullptr && is_frozen(item.key())) {
      bns.push_back(item.value());
    }
  }
  // Re-apply the current mode so that layers unfrozen by this call train again.
  model.train(model.is_training());
  return Status::OK();
}

void KeepFrozenBatchNormInEval(ImageClassifierImpl& model) {
  for (auto& bn : model.frozen_batch_norms()) bn->eval();
}

ParamGroups SplitParameters(ImageClassifierImpl& model) {
  ParamGroups groups;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    (Under(item.key(), model.head_name()) ? groups.head : groups.backbone).push_back(item.value());
  }
  return groups;
}

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

void ToChannelsLast(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  auto convert = [](torch::Tensor& t) {
    if (t.defined() && t.dim() == 4) {
      t.set_data(t.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
  };
  for (auto& p : module.parameters(/*recurse=*/true)) convert(p);
  for (auto& b : module.buffers(/*recurse=*/true)) convert(b);
}

}  // namespace vrepo::train
