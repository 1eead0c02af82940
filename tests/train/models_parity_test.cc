// Parity with torchvision for the architectures beyond ResNet: a state_dict saved by Debian's
// python3-torchvision (export_torchvision.py ARCH) loads strictly into vrepo's model (every
// name and shape) and gives torchvision's probabilities for the same input tensor.
#include <doctest/doctest.h>
#include <torch/nn.h>

#include <cstdlib>

#include "testing.h"
#include "train/reference_python.h"
#include "vrepo/train/models.h"
#include "vrepo/train/safetensors.h"

namespace vrepo::train {
namespace {

using vrepo::testing::ReferencePython;
using vrepo::testing::SkipWithoutTorchvision;

void CheckParity(const std::string& arch, int64_t input_size) {
  if (SkipWithoutTorchvision()) return;
  testing::TempDir dir;
  std::string script = std::string(VREPO_SOURCE_DIR) + "/tests/train/export_torchvision.py";
  std::string cmd = ReferencePython() + " " + script + " " + dir.path() + " " + arch;
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
  auto io = ReadSafetensors(dir / (arch + "_io.safetensors"));
  REQUIRE_MESSAGE(io.ok(), io.status().ToString());

  Model model;
  {
    auto weights = ReadSafetensors(dir / (arch + ".safetensors"));
    REQUIRE_MESSAGE(weights.ok(), weights.status().ToString());
    auto made = MakeModel(arch, 10, 3, input_size);
    REQUIRE_MESSAGE(made.ok(), made.status().ToString());
    model = *made;
    // Strict: every tensor of the file in the model and every one of the model in the file.
    Status loaded = LoadStateDict(*model, weights->tensors, arch + ".safetensors");
    REQUIRE_MESSAGE(loaded.ok(), loaded.ToString());
    CHECK(std::to_string(StateDict(*model).size()) == io->metadata["state_entries"]);
  }
  // The parameter count torchvision reports at 1000 classes: ours at 10 plus 990 head rows.
  const int64_t head_in = model->head()->options.in_features();
  CHECK(std::to_string(CountParameters(*model) + 990 * (head_in + 1)) == io->metadata["params"]);

  model->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor logits = model->forward(io->tensors.at("input"));
  const torch::Tensor& expected = io->tensors.at("probabilities");
  REQUIRE(logits.sizes() == expected.sizes());
  float diff = (torch::softmax(logits, 1) - expected).abs().max().item<float>();
  float logit_diff = (logits - io->tensors.at("logits")).abs().max().item<float>();
  MESSAGE(arch << ": max abs difference against torchvision " << io->metadata["torchvision"]
               << ": probabilities " << diff << ", logits " << logit_diff);
  CHECK(diff < 1e-4);
}

TEST_CASE("models parity: torchvision mobilenet_v3_large weights give the same probabilities") {
  CheckParity("mobilenet_v3_large", kDefaultInputSize);
}

TEST_CASE("models parity: torchvision efficientnet_b0 weights give the same probabilities") {
  CheckParity("efficientnet_b0", kDefaultInputSize);
}

// convnext_tiny and vit_b_16, the two slowest to build and export, are checked by
// pipeline_parity_test.cc alone: imported from torch.save files, through the standard eval
// transforms on real images, which covers what a same-tensor check here would.

}  // namespace
}  // namespace vrepo::train
