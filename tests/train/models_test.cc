#include "vrepo/train/models.h"

#include <doctest/doctest.h>
#include <torch/nn.h>

#include "vrepo/train/safetensors.h"

namespace vrepo::train {
namespace {

Model MustMake(const std::string& name, int64_t classes, int64_t channels = 3) {
  auto m = MakeModel(name, classes, channels);
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
        "unknown model 'resnet19' (valid: small-cnn, resnet18, resnet34, resnet50)");
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
  CHECK(until->kind == FreezeSpec::Kind::kUntilLayer);
  CHECK(until->until_layer == 3);
  CHECK(FreezeSpecToString(*until) == "until:layer3");
  for (const char* bad : {"all", "until:layer", "until:layerx", "until:layer0", "until:layer2x"}) {
    auto r = ParseFreezeSpec(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    CHECK(r.status().message().find("none, backbone or until:layerN") != std::string::npos);
  }
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
  CHECK(too_deep.message() == "freeze until:layer5: model resnet18 has layer1 to layer4");
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
