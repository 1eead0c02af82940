// Parity with torchvision: a resnet18 state_dict exported by Debian's python3-torchvision (see
// export_torchvision.py) loads into vrepo's resnet18 and gives the same logits.
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

TEST_CASE("resnet parity: torchvision resnet18 weights give the same logits in vrepo") {
  if (SkipWithoutTorchvision()) return;
  testing::TempDir dir;
  std::string script = std::string(VREPO_SOURCE_DIR) + "/tests/train/export_torchvision.py";
  std::string cmd = ReferencePython() + " " + script + " " + dir.path();
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);

  auto weights = ReadSafetensors(dir / "resnet18.safetensors");
  REQUIRE_MESSAGE(weights.ok(), weights.status().ToString());
  auto io = ReadSafetensors(dir / "io.safetensors");
  REQUIRE_MESSAGE(io.ok(), io.status().ToString());

  auto model = MakeModel("resnet18", 10);
  REQUIRE(model.ok());
  Status loaded = LoadStateDict(**model, weights->tensors, "resnet18.safetensors");
  REQUIRE_MESSAGE(loaded.ok(), loaded.ToString());
  (*model)->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor logits = (*model)->forward(io->tensors.at("input"));
  const torch::Tensor& expected = io->tensors.at("logits");
  REQUIRE(logits.sizes() == expected.sizes());
  float diff = (logits - expected).abs().max().item<float>();
  MESSAGE("max abs logit difference against torchvision " << io->metadata["torchvision"] << ": "
                                                          << diff);
  CHECK(diff < 1e-4);

  // The same weights saved by vrepo are byte-for-byte a valid file for the next load.
  REQUIRE(WriteSafetensors(dir / "again.safetensors", StateDict(**model)).ok());
  auto again = ReadSafetensors(dir / "again.safetensors");
  REQUIRE(again.ok());
  for (const auto& [name, t] : weights->tensors) {
    CHECK_MESSAGE(torch::equal(again->tensors.at(name), t), name);
  }

  // Cross-check the hard-coded count in models_test.cc against the installed torchvision.
  auto r50 = MakeModel("resnet50", 1000);
  REQUIRE(r50.ok());
  CHECK(std::to_string(CountParameters(**r50)) == io->metadata["resnet50_params"]);
}

}  // namespace
}  // namespace vrepo::train
