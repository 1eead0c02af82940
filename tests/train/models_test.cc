#include "vrepo/train/models.h"

#include <doctest/doctest.h>
#include <torch/nn.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <stdexcept>

#include "vrepo/train/attention.h"
#include "vrepo/train/layers.h"
#include "vrepo/train/safetensors.h"

namespace vrepo::train {
namespace {

Model MustMake(const std::string& name, int64_t classes, int64_t channels = 3,
               int64_t input_size = kDefaultInputSize) {
  auto m = MakeModel(name, classes, channels, input_size);
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  return *m;
}

torch::Tensor Buffer(const Model& m, const std::string& name) { return m->named_buffers()[name]; }

TEST_CASE("models: small-cnn maps a batch of gray 28x28 images to class logits") {
  torch::manual_seed(0);
  Model m = MustMake("small-cnn", 10, 1);
  m->eval();
  torch::NoGradGuard g;
  torch::Tensor out = m->forward(torch::rand({4, 1, 28, 28}));
  CHECK(out.sizes() == torch::IntArrayRef{4, 10});
  CHECK(m->name() == "small-cnn");
  // Other image sizes still work.
  CHECK(m->forward(torch::rand({2, 1, 64, 48})).sizes() == torch::IntArrayRef{2, 10});
}

TEST_CASE("models: ResNet parameter counts and names equal torchvision's") {
  struct Case {
    const char* name;
    size_t state_entries;  // len(torchvision.models.X().state_dict())
    int64_t params;        // sum(p.numel()) at 1000 classes, as published by torchvision
  };
  for (const Case& c : {Case{"resnet18", 122, 11689512}, Case{"resnet34", 218, 21797672},
                        Case{"resnet50", 320, 25557032}}) {
    Model m = MustMake(c.name, 1000);
    CHECK_MESSAGE(CountParameters(*m) == c.params, c.name);
    CHECK_MESSAGE(StateDict(*m).size() == c.state_entries, c.name);
  }
  TensorMap r18 = StateDict(*MustMake("resnet18", 10));
  for (const char* name :
       {"conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
        "layer1.1.bn2.bias", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean",
        "layer4.1.conv2.weight", "fc.weight", "fc.bias"}) {
    CHECK_MESSAGE(r18.count(name) == 1, name);
  }
  CHECK(r18.count("layer1.0.downsample.0.weight") == 0);
  CHECK(r18.at("fc.weight").sizes() == torch::IntArrayRef{10, 512});
  TensorMap r50 = StateDict(*MustMake("resnet50", 10));
  CHECK(r50.count("layer1.0.downsample.0.weight") == 1);
  CHECK(r50.at("layer3.5.conv3.weight").sizes() == torch::IntArrayRef{1024, 256, 1, 1});
  CHECK(r50.at("fc.weight").sizes() == torch::IntArrayRef{10, 2048});
}

TEST_CASE("models: an unknown name or size is one line listing what is valid") {
  auto m = MakeModel("resnet19", 10);
  REQUIRE_FALSE(m.ok());
  CHECK(m.status().code() == Status::Code::kInvalidArgument);
  CHECK(m.status().message() ==
        "unknown model 'resnet19' (valid: small-cnn, resnet18, resnet34, resnet50, "
        "mobilenet_v3_large, efficientnet_b0, convnext_tiny, vit_b_16)");
  CHECK_FALSE(MakeModel("resnet18", 0).ok());
  CHECK_FALSE(MakeModel("small-cnn", 10, -1).ok());
}

TEST_CASE("models: gray input works for ResNets too") {
  Model m = MustMake("resnet18", 4, 1);
  m->eval();
  torch::NoGradGuard g;
  CHECK(m->forward(torch::rand({2, 1, 32, 32})).sizes() == torch::IntArrayRef{2, 4});
}

TEST_CASE("models: replacing the head keeps the backbone and loads weights without fc") {
  torch::manual_seed(3);
  Model pre = MustMake("resnet18", 10);
  Model m = MustMake("resnet18", 10);
  REQUIRE(ReplaceHead(*m, 3).ok());
  CHECK(m->num_classes() == 3);
  CHECK(StateDict(*m).at("fc.weight").sizes() == torch::IntArrayRef{3, 512});

  // The 10-class file does not fit the 3-class head unless fc is skipped.
  Status strict = LoadStateDict(*m, StateDict(*pre), "pre");
  CHECK(strict.message().find("shape mismatch for 'fc.weight': file has [10, 512], model has "
                              "[3, 512]") != std::string::npos);
  LoadStateOptions skip;
  skip.skip_prefixes = {"fc."};
  REQUIRE(LoadStateDict(*m, StateDict(*pre), "pre", skip).ok());
  CHECK(torch::equal(StateDict(*m).at("layer3.1.conv2.weight"),
                     StateDict(*pre).at("layer3.1.conv2.weight")));

  m->eval();
  torch::NoGradGuard g;
  CHECK(m->forward(torch::rand({2, 3, 32, 32})).sizes() == torch::IntArrayRef{2, 3});
  CHECK_FALSE(ReplaceHead(*m, 0).ok());
}

TEST_CASE("models: freeze specs parse and print") {
  CHECK(ParseFreezeSpec("none")->kind == FreezeSpec::Kind::kNone);
  CHECK(ParseFreezeSpec("backbone")->kind == FreezeSpec::Kind::kBackbone);
  auto until = ParseFreezeSpec("until:layer3");
  REQUIRE(until.ok());
  CHECK(until->kind == FreezeSpec::Kind::kUntilStage);
  CHECK(until->until_stage == "layer3");
  CHECK(FreezeSpecToString(*until) == "until:layer3");
  CHECK(ParseFreezeSpec("until:features.4")->until_stage == "features.4");
  for (const char* bad : {"all", "until:", "until:layer 2", "until:a/b", "layer2"}) {
    auto r = ParseFreezeSpec(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    CHECK(r.status().message().find("none, backbone or until:STAGE") != std::string::npos);
  }
  // The stage is checked against the architecture, listing what it has.
  CHECK(CheckFreezeSpec("resnet18", *until).ok());
  Status missing = CheckFreezeSpec("small-cnn", *ParseFreezeSpec("until:layer4"));
  CHECK(missing.code() == Status::Code::kInvalidArgument);
  CHECK(missing.message() ==
        "freeze until:layer4: model small-cnn has no stage 'layer4' (stages: layer1..layer3)");
  CHECK(CheckFreezeSpec("vit_b_16", *ParseFreezeSpec("backbone")).ok());
}

TEST_CASE("models: a frozen backbone gets no gradients and keeps its batch-norm statistics") {
  torch::manual_seed(4);
  Model m = MustMake("small-cnn", 10, 1);
  REQUIRE(Freeze(*m, *ParseFreezeSpec("backbone")).ok());
  ParamGroups groups = SplitParameters(*m);
  CHECK(groups.head.size() == 2);
  CHECK(groups.backbone.empty());

  m->train();
  CHECK(m->is_training());
  torch::Tensor mean_before = Buffer(m, "layer2.1.running_mean").clone();
  torch::Tensor loss = m->forward(torch::rand({8, 1, 28, 28}) * 5).sum();
  loss.backward();
  CHECK(torch::equal(Buffer(m, "layer2.1.running_mean"), mean_before));
  CHECK(Buffer(m, "layer2.1.num_batches_tracked").item<int64_t>() == 0);
  CHECK_FALSE(m->named_parameters()["layer1.0.weight"].grad().defined());
  CHECK(m->named_parameters()["fc.weight"].grad().defined());

  // Unfreezing trains everything again, statistics included.
  REQUIRE(Freeze(*m, FreezeSpec{}).ok());
  CHECK(SplitParameters(*m).backbone.size() == 9);  // conv, bn weight, bn bias x 3
  m->forward(torch::rand({8, 1, 28, 28}) * 5);
  CHECK_FALSE(torch::equal(Buffer(m, "layer2.1.running_mean"), mean_before));
}

TEST_CASE("models: until:layerN freezes the stem and layers 1..N only") {
  torch::manual_seed(5);
  Model m = MustMake("resnet18", 10);
  REQUIRE(Freeze(*m, *ParseFreezeSpec("until:layer2")).ok());
  for (const auto& item : m->named_parameters()) {
    const std::string& n = item.key();
    bool frozen = n.rfind("conv1.", 0) == 0 || n.rfind("bn1.", 0) == 0 ||
                  n.rfind("layer1.", 0) == 0 || n.rfind("layer2.", 0) == 0;
    CHECK_MESSAGE(item.value().requires_grad() == !frozen, n);
  }
  ParamGroups groups = SplitParameters(*m);
  CHECK(groups.head.size() == 2);
  CHECK_FALSE(groups.backbone.empty());

  m->train();
  torch::Tensor stem = Buffer(m, "bn1.running_mean").clone();
  torch::Tensor l2 = Buffer(m, "layer2.1.bn2.running_var").clone();
  torch::Tensor l3 = Buffer(m, "layer3.0.bn1.running_mean").clone();
  m->forward(torch::rand({2, 3, 32, 32}));
  CHECK(torch::equal(Buffer(m, "bn1.running_mean"), stem));
  CHECK(torch::equal(Buffer(m, "layer2.1.bn2.running_var"), l2));
  CHECK_FALSE(torch::equal(Buffer(m, "layer3.0.bn1.running_mean"), l3));

  // A trainer that flips a submodule back to train mode restores the rule with one call.
  m->named_children()["layer1"]->train();
  KeepFrozenBatchNormInEval(*m);
  for (const auto& mod : m->named_children()["layer1"]->modules()) {
    if (mod->as<torch::nn::BatchNorm2d>()) CHECK_FALSE(mod->is_training());
  }

  auto too_deep = Freeze(*m, *ParseFreezeSpec("until:layer5"));
  CHECK(too_deep.code() == Status::Code::kInvalidArgument);
  CHECK(too_deep.message() ==
        "freeze until:layer5: model resnet18 has no stage 'layer5' (stages: stem, layer1..layer4)");

  // until:stem freezes conv1 and bn1 alone.
  REQUIRE(Freeze(*m, *ParseFreezeSpec("until:stem")).ok());
  CHECK_FALSE(m->named_parameters()["bn1.weight"].requires_grad());
  CHECK(m->named_parameters()["layer1.0.conv1.weight"].requires_grad());
}

// What one new architecture is checked for without torchvision (parity is in
// models_parity_test.cc).
struct ArchCase {
  const char* name;
  int64_t input_size;    // the side built for and fed (ViT at its cheapest, 32)
  int64_t params;        // sum(p.numel()) of torchvision's model at 10 classes and this side
  size_t state_entries;  // len(torchvision.models.X().state_dict())
  const char* head;      // where torchvision registers the head
  int64_t head_in;       // its input features
  const char* until;     // a stage in the middle
  std::vector<std::string> frozen_prefixes;  // what until:STAGE must freeze, in state names
  const char* names[4];                      // a few torchvision names the state dict must hold
  const char* kept_bn;    // a batch norm freezing until:STAGE keeps in eval mode (or "")
  const char* moving_bn;  // a batch norm after the stage, still updating (or "")
};

// Published counts at 1000 classes minus the head's 990 * (in + 1) lost at 10 classes; for ViT
// at 32 px also the 192 positional embeddings of the 196 patches a 224 px input has.
const ArchCase kArchs[] = {
    {"mobilenet_v3_large",
     64,
     5483032 - 990 * 1281,
     312,
     "classifier.3",
     1280,
     "features.4",
     {"features.0.", "features.1.", "features.2.", "features.3.", "features.4."},
     {"features.4.block.2.fc1.weight", "features.16.0.weight", "classifier.0.weight",
      "features.1.block.0.1.running_var"},
     "features.3.block.0.1",
     "features.5.block.0.1"},
    {"efficientnet_b0",
     64,
     5288548 - 990 * 1281,
     360,
     "classifier.1",
     1280,
     "features.3",
     {"features.0.", "features.1.", "features.2.", "features.3."},
     {"features.1.0.block.1.fc2.bias", "features.2.1.block.3.1.running_mean", "features.8.0.weight",
      "features.7.0.block.0.0.weight"},
     "features.2.0.block.1.1",
     "features.4.0.block.1.1"},
    {"convnext_tiny",
     64,
     28589128 - 990 * 769,
     182,
     "classifier.2",
     768,
     "features.2",
     {"features.0.", "features.1.", "features.2."},
     {"features.1.0.layer_scale", "features.5.8.block.5.weight", "features.6.0.weight",
      "classifier.0.bias"},
     "",
     ""},
    {"vit_b_16",
     32,
     86567656 - 990 * 769 - 192 * 768,
     152,
     "heads.head",
     768,
     "encoder_layer_5",
     {"conv_proj.", "class_token", "encoder.pos_embedding", "encoder.layers.encoder_layer_0.",
      "encoder.layers.encoder_layer_1.", "encoder.layers.encoder_layer_2.",
      "encoder.layers.encoder_layer_3.", "encoder.layers.encoder_layer_4.",
      "encoder.layers.encoder_layer_5."},
     {"encoder.layers.encoder_layer_11.self_attention.in_proj_weight",
      "encoder.layers.encoder_layer_0.self_attention.out_proj.bias",
      "encoder.layers.encoder_layer_3.mlp.3.weight", "encoder.ln.weight"},
     "",
     ""},
};

bool StartsWithAny(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes) {
    if (name.rfind(p, 0) == 0) return true;
  }
  return false;
}

// Every convolution and non-head linear layer carries the adapter slot LoRA fills.
void CheckAdapterSlots(ImageClassifierImpl& m) {
  int convs = 0, linears = 0;
  for (const auto& item : m.named_modules("", /*include_self=*/false)) {
    const auto& mod = item.value();
    if (mod->as<torch::nn::Conv2d>() != nullptr) {
      ++convs;
      CHECK_MESSAGE(mod->as<AdaptedConv2d>() != nullptr, item.key());
    }
    if (mod->as<torch::nn::Linear>() != nullptr && item.key() != m.head_name()) {
      ++linears;
      CHECK_MESSAGE(mod->as<AdaptedLinear>() != nullptr, item.key());
    }
  }
  CHECK(convs > 0);
  MESSAGE(m.name() << ": " << convs << " adapted convolutions, " << linears << " adapted linears");
}

void CheckArch(const ArchCase& c) {
  INFO(c.name);
  torch::manual_seed(7);
  auto made = MakeModel(c.name, 10, 3, c.input_size);
  REQUIRE_MESSAGE(made.ok(), made.status().ToString());
  Model m = *made;
  CHECK(m->name() == c.name);
  CHECK(m->head_name() == c.head);
  CHECK(CountParameters(*m) == c.params);
  TensorMap state = StateDict(*m);
  CHECK(state.size() == c.state_entries);
  for (const char* name : c.names) CHECK_MESSAGE(state.count(name) == 1, name);
  CHECK(state.at(std::string(c.head) + ".weight").sizes() == torch::IntArrayRef{10, c.head_in});
  CheckAdapterSlots(*m);

  // One SGD step in train mode changes the backbone and the head. ViT's head starts at zero
  // (as torchvision's does), which would leave the backbone's first gradient at zero.
  torch::nn::init::normal_(m->head()->weight, 0, 0.01);
  const torch::Tensor x = torch::randn({2, 3, c.input_size, c.input_size});
  const torch::Tensor y = torch::tensor({1, 7});
  m->train();
  const std::string first = c.names[0];
  torch::Tensor w_before = state.at(first).clone();
  torch::Tensor head_before = state.at(std::string(c.head) + ".weight").clone();
  {
    torch::optim::SGD sgd(m->parameters(), torch::optim::SGDOptions(0.1));
    torch::Tensor loss = torch::cross_entropy_loss(m->forward(x), y);
    CHECK(std::isfinite(loss.item<double>()));
    loss.backward();
    sgd.step();
  }
  CHECK_FALSE(torch::equal(StateDict(*m).at(first), w_before));
  CHECK_FALSE(torch::equal(StateDict(*m).at(std::string(c.head) + ".weight"), head_before));

  // Freezing the backbone leaves the head alone trainable.
  REQUIRE(Freeze(*m, *ParseFreezeSpec("backbone")).ok());
  ParamGroups groups = SplitParameters(*m);
  CHECK(groups.head.size() == 2);
  CHECK(groups.backbone.empty());
  for (const auto& item : m->named_parameters()) {
    CHECK_MESSAGE(item.value().requires_grad() == (item.key().rfind(c.head, 0) == 0), item.key());
  }

  // until:STAGE freezes exactly the stages up to it; their batch norms keep their statistics.
  REQUIRE(Freeze(*m, *ParseFreezeSpec(std::string("until:") + c.until)).ok());
  for (const auto& item : m->named_parameters()) {
    CHECK_MESSAGE(item.value().requires_grad() != StartsWithAny(item.key(), c.frozen_prefixes),
                  item.key());
  }
  CHECK_FALSE(SplitParameters(*m).backbone.empty());
  if (*c.kept_bn) {
    m->train();
    const std::string kept = std::string(c.kept_bn) + ".running_mean";
    const std::string moving = std::string(c.moving_bn) + ".running_mean";
    torch::Tensor kept_before = Buffer(m, kept).clone();
    torch::Tensor moving_before = Buffer(m, moving).clone();
    torch::NoGradGuard g;
    m->forward(x);
    CHECK(torch::equal(Buffer(m, kept), kept_before));
    CHECK_FALSE(torch::equal(Buffer(m, moving), moving_before));
  }
  Status wrong = Freeze(*m, *ParseFreezeSpec("until:layer2"));
  CHECK(wrong.code() == Status::Code::kInvalidArgument);
  CHECK(wrong.message().find("model " + std::string(c.name) + " has no stage 'layer2'") !=
        std::string::npos);

  // A new head for 3 classes, in place in torchvision's container, used by forward.
  REQUIRE(ReplaceHead(*m, 3).ok());
  CHECK(m->num_classes() == 3);
  CHECK(StateDict(*m).at(std::string(c.head) + ".weight").sizes() ==
        torch::IntArrayRef{3, c.head_in});
  CHECK(StateDict(*m).size() == c.state_entries);
  m->eval();
  torch::NoGradGuard g;
  CHECK(m->forward(x).sizes() == torch::IntArrayRef{2, 3});
}

TEST_CASE("models: mobilenet_v3_large has torchvision's layout, trains, freezes and swaps heads") {
  CheckArch(kArchs[0]);
}

TEST_CASE("models: efficientnet_b0 has torchvision's layout, trains, freezes and swaps heads") {
  CheckArch(kArchs[1]);
}

TEST_CASE("models: convnext_tiny has torchvision's layout, trains, freezes and swaps heads") {
  CheckArch(kArchs[2]);
}

TEST_CASE("models: vit_b_16 has torchvision's layout, trains, freezes and swaps heads") {
  CheckArch(kArchs[3]);
}

TEST_CASE("models: stochastic depth and dropout repeat under the same seed") {
  torch::manual_seed(8);
  Model m = MustMake("efficientnet_b0", 4);
  m->train();
  torch::Tensor x = torch::randn({4, 3, 32, 32});
  torch::manual_seed(9);
  torch::Tensor a = m->forward(x);
  torch::manual_seed(9);
  torch::Tensor b = m->forward(x);
  torch::manual_seed(10);
  torch::Tensor c = m->forward(x);
  CHECK(torch::equal(a, b));
  CHECK_FALSE(torch::equal(a, c));
}

TEST_CASE("models: vit_b_16 is built for one input size and refuses others in one line") {
  CHECK(MakeModel("vit_b_16", 10, 3, 40).status().message() ==
        "model vit_b_16: input size 40 is not a multiple of its 16-pixel patches");
  torch::manual_seed(11);
  Model m = MustMake("vit_b_16", 10, 3, 32);
  CHECK(m->input_size() == 32);
  CHECK(StateDict(*m).at("encoder.pos_embedding").sizes() == torch::IntArrayRef{1, 5, 768});
  torch::NoGradGuard g;
  m->eval();
  CHECK_THROWS_WITH_AS(m->forward(torch::rand({1, 3, 64, 64})),
                       "model vit_b_16: input is 64x64 but the model is built for 32x32 images",
                       std::invalid_argument);
  CHECK(MustMake("resnet18", 10)->input_size() == 0);
}

// An adapter that adds `scale` times a fixed linear map of the input.
class TestAdapter : public AdapterImpl {
 public:
  TestAdapter(int64_t in, int64_t out, double scale) : scale_(scale) {
    weight_ = register_parameter("weight", torch::randn({out, in}) * 0.1);
  }
  torch::Tensor forward(const torch::Tensor& input) override {
    return torch::linear(input, weight_) * scale_;
  }

 private:
  torch::Tensor weight_;
  double scale_;
};

TEST_CASE("models: vit's packed attention projection takes an adapter like a Linear does") {
  torch::manual_seed(12);
  Model m = MustMake("vit_b_16", 10, 3, 32);
  // The head starts at zero; a random one makes the outputs depend on the encoder.
  torch::nn::init::normal_(m->head()->weight);
  m->eval();
  torch::NoGradGuard g;
  torch::Tensor x = torch::randn({1, 3, 32, 32});
  torch::Tensor base = m->forward(x);
  auto* attention =
      m->named_modules()["encoder.layers.encoder_layer_0.self_attention"]->as<SelfAttention>();
  REQUIRE(attention != nullptr);
  CHECK(attention->embed_dim() == 768);

  // A zero adapter leaves the output as it was, a non-zero one changes it; its tensors are
  // named under the layer's "lora".
  attention->SetAdapter(std::make_shared<TestAdapter>(768, 3 * 768, 0.0));
  CHECK(torch::allclose(m->forward(x), base));
  attention->SetAdapter(std::make_shared<TestAdapter>(768, 3 * 768, 1.0));
  CHECK_FALSE(torch::allclose(m->forward(x), base, 1e-3, 1e-3));
  CHECK(StateDict(*m).count("encoder.layers.encoder_layer_0.self_attention.lora.weight") == 1);
  attention->SetAdapter(nullptr);
  CHECK(StateDict(*m).count("encoder.layers.encoder_layer_0.self_attention.lora.weight") == 0);
  CHECK(torch::equal(m->forward(x), base));
}

TEST_CASE("models: stage names fold for help text and errors") {
  CHECK(DescribeStages(*FreezeStages("resnet50")) == "stem, layer1..layer4");
  CHECK(DescribeStages(*FreezeStages("mobilenet_v3_large")) == "features.0..features.16");
  CHECK(DescribeStages(*FreezeStages("vit_b_16")) ==
        "conv_proj, encoder_layer_0..encoder_layer_11");
  CHECK(DescribeStages({"a1", "a2", "b"}) == "a1, a2, b");
  CHECK_FALSE(FreezeStages("vgg").ok());
}

TEST_CASE("models: channels_last gives the same logits on CPU") {
  torch::manual_seed(6);
  Model m = MustMake("resnet18", 10);
  m->eval();
  torch::NoGradGuard g;
  torch::Tensor x = torch::rand({2, 3, 32, 32});
  torch::Tensor ref = m->forward(x);
  ToChannelsLast(*m);
  CHECK(StateDict(*m).at("conv1.weight").is_contiguous(torch::MemoryFormat::ChannelsLast));
  torch::Tensor out = m->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  CHECK((out - ref).abs().max().item<float>() < 1e-4);
}

}  // namespace
}  // namespace vrepo::train
