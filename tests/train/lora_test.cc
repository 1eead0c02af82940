// LoRA: adapters that start as the identity, train alone with the head, are stored without
// the base, reproduce bit for bit, and merge into torchvision-named weights for export.
#include "vrepo/train/lora.h"

// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include <torch/nn.h>

#include "vrepo/train/export.h"
#include "vrepo/train/models.h"
#include "vrepo/train/reproduce.h"
#include "vrepo/train/run_model.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/train/trainer.h"

#include <algorithm>
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
// clang-format on

#include "cli/cli_support.h"
#include "train/reference_python.h"
#include "train/train_fixture.h"
#include "vrepo/store/content_id.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

using vrepo::testing::Must;
using vrepo::testing::ReferencePython;
using vrepo::testing::SkipWithoutTorchvision;
using vrepo::testing::TrainRepo;

Model Resnet18(int64_t classes, int64_t channels = 3) {
  torch::manual_seed(0);
  Model m = Must(MakeModel("resnet18", classes, channels));
  m->eval();
  return m;
}

torch::Tensor Logits(ImageClassifierImpl& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return model.forward(x);
}

// A classifier with one grouped and one plain convolution, for the layers LoRA refuses.
class GroupedNetImpl : public ImageClassifierImpl {
 public:
  GroupedNetImpl() : ImageClassifierImpl("grouped-test", "fc") {
    namespace nn = torch::nn;
    grouped_ = register_module("grouped", AdaptedConv2d(nn::Conv2dOptions(4, 4, 3).groups(2)));
    plain_ = register_module("plain", AdaptedConv2d(nn::Conv2dOptions(4, 4, 1)));
    SetHead(nn::Linear(4, 2));
  }
  torch::Tensor forward(torch::Tensor x) override {
    return head_(plain_(grouped_(x)).mean({2, 3}));
  }

 private:
  AdaptedConv2d grouped_{nullptr}, plain_{nullptr};
};

TEST_CASE("lora: B = 0 keeps the base's outputs exactly, only adapters and head train") {
  Model model = Resnet18(10);
  torch::Tensor x = torch::randn({2, 3, 32, 32});
  torch::Tensor before = Logits(*model, x);
  const int64_t base_params = CountParameters(*model);
  auto layers = ApplyLora(*model, LoraOptions{4, 0, {}});
  REQUIRE_MESSAGE(layers.ok(), layers.status().ToString());
  CHECK(layers->size() == 20);  // every convolution of resnet18, downsamples included
  CHECK(layers->front() == "conv1");
  CHECK(torch::equal(Logits(*model, x), before));

  int64_t trainable = 0, adapter = 0;
  for (const auto& item : model->named_parameters()) {
    const bool ours = IsLoraTensor(item.key()) || item.key().starts_with("fc.");
    CHECK_MESSAGE(item.value().requires_grad() == ours, item.key());
    if (item.value().requires_grad()) trainable += item.value().numel();
    if (IsLoraTensor(item.key())) adapter += item.value().numel();
  }
  CHECK(trainable == adapter + 512 * 10 + 10);
  CHECK(CountParameters(*model) == base_params + adapter);
  // rank 4 against resnet18's 11.7 M: well under 2 % of the model trains.
  CHECK(adapter < base_params / 50);
  model->train();
  for (const auto& m : model->modules()) {
    if (m->as<torch::nn::BatchNorm2d>() != nullptr) CHECK_FALSE(m->is_training());
  }
}

TEST_CASE("lora: merged weights give the un-merged model's outputs, conv and linear") {
  Model model = Resnet18(10);
  REQUIRE(ApplyLora(*model, LoraOptions{4, 8, {"layer1", "*.downsample.0"}}).ok());
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model->named_parameters()) {
      if (item.key().ends_with(".lora.B.weight")) item.value().normal_(0, 0.05);
    }
  }
  torch::Tensor x = torch::randn({2, 3, 40, 36});
  torch::Tensor adapted = Logits(*model, x);
  TensorMap merged = Must(MergeLora(StateDict(*model), LoraScale(4, 8)));
  for (const auto& [name, t] : merged) CHECK_FALSE(IsLoraTensor(name));
  Model plain = Resnet18(10);
  REQUIRE(LoadStateDict(*plain, merged, "merged").ok());
  torch::Tensor out = Logits(*plain, x);
  CHECK((out - adapted).abs().max().item<double>() < 1e-5);
  CHECK_FALSE(torch::equal(out, Logits(*Resnet18(10), x)));  // the adapters did something

  AdaptedLinear linear(8, 5);
  linear->SetAdapter(std::make_shared<LoraLinearImpl>(8, 5, 2, 0.5));
  torch::NoGradGuard no_grad;
  linear->named_parameters()["lora.B.weight"].normal_();
  torch::Tensor in = torch::randn({3, 8});
  TensorMap lm = Must(MergeLora(StateDict(*linear), 0.5));
  torch::Tensor y = torch::nn::functional::linear(in, lm.at("weight"), lm.at("bias"));
  CHECK((y - linear->forward(in)).abs().max().item<double>() < 1e-5);
  CHECK_FALSE(torch::equal(y, torch::nn::functional::linear(in, linear->weight, linear->bias)));
}

TEST_CASE("lora: vit_b_16 adapts the packed q, k, v projection, out_proj and MLP, and merges") {
  torch::manual_seed(0);
  Model vit = Must(MakeModel("vit_b_16", 3));
  vit->eval();
  {
    torch::NoGradGuard no_grad;
    vit->head()->weight.normal_(0, 0.1);  // torchvision starts ViT's head at zero
  }
  const TensorMap base = StateDict(*vit);
  auto layers = Must(ApplyLora(*vit, LoraOptions{2, 2, {}}));
  const std::string block = "encoder.layers.encoder_layer_0.";
  for (const std::string want : {"self_attention", "self_attention.out_proj", "mlp.0", "mlp.3"}) {
    CHECK_MESSAGE(std::count(layers.begin(), layers.end(), block + want) == 1, want);
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& item : vit->named_parameters()) {
      if (item.key().ends_with(".lora.B.weight")) item.value().normal_(0, 0.02);
    }
  }
  torch::Tensor x = torch::randn({1, 3, 224, 224});
  torch::Tensor adapted = Logits(*vit, x);
  TensorMap merged = Must(MergeLora(StateDict(*vit), LoraScale(2, 2)));
  const std::string in_proj = block + "self_attention.in_proj_weight";
  CHECK_FALSE(torch::equal(merged.at(in_proj), base.at(in_proj)));  // the update went in
  Model plain = Must(MakeModel("vit_b_16", 3));
  plain->eval();
  REQUIRE(LoadStateDict(*plain, merged, "merged").ok());
  CHECK((Logits(*plain, x) - adapted).abs().max().item<double>() < 1e-4);
  REQUIRE(LoadStateDict(*plain, base, "base").ok());
  CHECK((Logits(*plain, x) - adapted).abs().max().item<double>() > 1e-4);  // adapters acted
}

TEST_CASE("lora: unknown patterns, grouped convolutions and bad ranks are one-line errors") {
  Model model = Resnet18(10);
  auto none = ApplyLora(*model, LoraOptions{4, 0, {"layer9"}});
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message() ==
        "--lora-targets 'layer9': matches no convolution or linear layer of resnet18 (the head "
        "fc is always trained in full)");
  CHECK_FALSE(ApplyLora(*model, LoraOptions{0, 0, {}}).ok());
  for (const auto& p : model->parameters()) CHECK(p.requires_grad());  // unchanged

  auto net = std::make_shared<GroupedNetImpl>();
  auto grouped = ApplyLora(*net, LoraOptions{2, 0, {"grouped"}});
  REQUIRE_FALSE(grouped.ok());
  CHECK(grouped.status().message().find("layer grouped is a grouped convolution (groups 2)") !=
        std::string::npos);
  auto defaults = ApplyLora(*net, LoraOptions{2, 0, {}});  // skips what cannot take it
  REQUIRE(defaults.ok());
  CHECK(*defaults == std::vector<std::string>{"plain"});
}

TEST_CASE("lora: a run stores only adapter and head, reproduces bit for bit, and exports") {
  TrainRepo r(16);
  testing::TempDir scratch;
  const std::string base_path = scratch / "base.safetensors";
  REQUIRE(WriteSafetensors(base_path, StateDict(*Resnet18(10))).ok());
  const int64_t base_bytes = static_cast<int64_t>(Must(ReadFile(base_path)).size());

  TrainConfig c;
  c.labels = "labels.csv";
  c.val_split = 0.25;
  c.model = "resnet18";
  c.base = base_path;
  c.lora_rank = 4;
  c.image_size = 32;
  c.epochs = 1;
  c.batch_size = 8;
  c.seed = 3;
  c.device = "cpu";
  c.deterministic = true;
  TrainResult result = Must(Train(*r.repo, c, {}));
  CHECK(result.config.lora_alpha == 4);
  CHECK(result.lora_layers.size() == 20);
  CHECK(result.trainable_parameters < result.total_parameters / 50);
  RunManifest manifest = ManifestOf(result);
  CHECK(manifest.weights_path == "adapter.safetensors");
  const std::string commit = Must(WriteRunRecord(*r.repo, manifest, result.weights));
  RunRecord run = Must(ReadRun(*r.repo, commit));
  std::vector<std::string> files;
  for (const FileEntry& f : run.files) files.push_back(f.path);
  CHECK(std::find(files.begin(), files.end(), "adapter.json") != files.end());
  CHECK(std::find(files.begin(), files.end(), "model.safetensors") == files.end());
  CHECK(run.manifest.lora.rank == 4);
  CHECK(run.manifest.lora.layers.size() == 20);
  CHECK(run.manifest.trainable_parameters == result.trainable_parameters);
  CHECK(run.manifest.total_parameters == result.total_parameters);
  CHECK(run.manifest.base_model_id == ContentId::Of(Must(ReadFile(base_path))).Hex());
  // The bytes a run stores: adapter and head, a few percent of the base.
  CHECK(static_cast<int64_t>(run.manifest.weights_size) < base_bytes / 20);
  SafetensorsFile adapter = Must(ParseSafetensors(Must(ReadRunWeights(*r.repo, run)), "adapter"));
  for (const auto& [name, t] : adapter.tensors) {
    CHECK_MESSAGE((IsLoraTensor(name) || name.starts_with("fc.")), name);
  }
  auto adapter_json = nlohmann::json::parse(Must(ReadRunFile(*r.repo, run, "adapter.json")));
  CHECK(adapter_json["rank"] == 4);
  CHECK(adapter_json["base"]["model_content_id"] == run.manifest.base_model_id);

  ReproReport report = Must(Reproduce(*r.repo, run, {}));
  CHECK(report.ok());
  for (const ReproField& f : report.fields) {
    if (f.name == "weights content id") CHECK(f.match);
  }

  // The export equals the base with the adapter installed, un-merged.
  const std::string out = scratch / "export";
  ExportSummary summary = Must(ExportModel(*r.repo, run, out));
  CHECK(summary.merged);
  SafetensorsFile exported = Must(ReadSafetensors(out + "/model.safetensors"));
  const int64_t classes = static_cast<int64_t>(result.classes.size());
  torch::manual_seed(0);
  Model merged = Must(MakeModel("resnet18", classes));
  REQUIRE(LoadStateDict(*merged, exported.tensors, "export").ok());
  Model adapted = Must(MakeModel("resnet18", classes));
  LoadStateOptions skip_fc;
  skip_fc.skip_prefixes = {"fc."};
  REQUIRE(LoadStateDict(*adapted, Must(ReadSafetensors(base_path)).tensors, "base", skip_fc).ok());
  REQUIRE(ApplyLora(*adapted, LoraOptions{4, 4, run.manifest.lora.layers}).ok());
  LoadStateOptions partial;
  partial.require_all = false;
  REQUIRE(LoadStateDict(*adapted, adapter.tensors, "adapter", partial).ok());
  merged->eval();
  adapted->eval();
  torch::Tensor x = torch::randn({3, 3, 32, 32});
  CHECK((Logits(*merged, x) - Logits(*adapted, x)).abs().max().item<double>() < 1e-5);
  auto classes_json = nlohmann::json::parse(Must(ReadFile(out + "/classes.json")));
  CHECK(classes_json.get<std::vector<std::string>>() == result.classes);
  auto pre = nlohmann::json::parse(Must(ReadFile(out + "/preprocessing.json")));
  CHECK(pre["crop"] == 32);
  CHECK(pre["channels"] == 3);  // resnet18 takes RGB: the gray images are repeated

  // An existing folder is refused, and left as it was.
  auto again = ExportModel(*r.repo, run, out);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message() == out + ": exists");
  CHECK(Must(ReadFile(out + "/model.safetensors")).size() == summary.bytes);

  // Eval reads a LoRA run through its base.
  EvalOptions eo;
  eo.labels = "labels.csv";
  eo.device = "cpu";
  EvalResult eval = Must(Evaluate(*r.repo, Must(RunModelWeights(*r.repo, run)), eo));
  CHECK(eval.samples == 16);
}

TEST_CASE("lora: --lora without --base and other bad settings are refused before training") {
  TrainConfig c;
  c.labels = "labels.csv";
  c.lora_rank = 4;
  CHECK(ValidateConfig(c).message().find("--lora needs --base") != std::string::npos);
  c.base = "x.safetensors";
  c.freeze = "backbone";
  CHECK(ValidateConfig(c).message().find("leave --freeze at none") != std::string::npos);
  c.freeze = "none";
  c.lora_rank = 0;
  c.lora_targets = {"layer1"};
  CHECK(ValidateConfig(c).message() == "--lora-alpha and --lora-targets need --lora RANK");
}

TEST_CASE("lora cli: torchvision loads the export of a LoRA run strictly, and no overwrite") {
  if (SkipWithoutTorchvision()) return;
  testing::TempDir d;
  const std::string script = std::string(VREPO_SOURCE_DIR) + "/tests/train/lora_torchvision.py";
  const std::string data = ReferencePython() + " " + script + " data " + d.path();
  REQUIRE_MESSAGE(std::system(data.c_str()) == 0, data);
  const std::string repo = d / "repo";
  testing::MustRun(repo, {"init"});
  testing::MustRun(repo, {"add", "."});
  testing::MustRun(repo, {"commit", "-m", "colours"});
  testing::MustRun(repo, {"train",
                          "--labels",
                          "labels.csv",
                          "--val-split",
                          "0.25",
                          "--model",
                          "resnet18",
                          "--base",
                          "../base.safetensors",
                          "--lora",
                          "4",
                          "--image-size",
                          "32",
                          "--epochs",
                          "1",
                          "--batch-size",
                          "8",
                          "--seed",
                          "1",
                          "--deterministic",
                          "--name",
                          "adapted"});
  testing::Json show =
      testing::Json::Parse(testing::MustRun(repo, {"runs", "show", "adapted", "--json"}).out);
  CHECK(show["weights"]["path"].str == "adapter.safetensors");
  CHECK(show["lora"]["rank"].number == 4);
  CHECK(show["parameters"]["trainable"].number < show["parameters"]["total"].number / 50);

  REQUIRE(MakeDirs(d / "taken").ok());
  testing::CommandResult taken =
      testing::RunVrepo(repo, {"export", "adapted", "--out", "../taken"});
  CHECK(taken.exit_code == 128);
  CHECK(taken.err.starts_with("vrepo: export: "));
  CHECK(taken.err.ends_with("/taken: exists\n"));
  CHECK(std::count(taken.err.begin(), taken.err.end(), '\n') == 1);

  testing::MustRun(repo, {"export", "adapted", "--out", "../export"});
  const std::string check = ReferencePython() + " " + script + " check " + (d / "export");
  CHECK_MESSAGE(std::system(check.c_str()) == 0, check);
}

}  // namespace
}  // namespace vrepo::train
