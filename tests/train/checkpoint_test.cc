// Checkpoints from the ecosystem: torchvision's torch.save files (zip and legacy) and
// safetensors with timm names, read without running anything from the file, checked against
// an architecture. The files come from Debian's python3-torchvision (export_checkpoints.py).
// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include "vrepo/train/checkpoint.h"

#include <doctest/doctest.h>
// clang-format on

#include <algorithm>
#include <cstdlib>

#include "must.h"
#include "testing.h"
#include "train/reference_python.h"
#include "vrepo/store/content_id.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

using vrepo::testing::HaveTorchvision;
using vrepo::testing::ReferencePython;

// The exported checkpoints, written once per test binary; nullptr (after a MESSAGE) when
// python3-torchvision is absent.
const testing::TempDir* Exported() {
  static testing::TempDir dir;
  static const bool ok = [] {
    if (!HaveTorchvision()) return false;
    std::string cmd = ReferencePython() + " " + std::string(VREPO_SOURCE_DIR) +
                      "/tests/train/export_checkpoints.py " + dir.path();
    return std::system(cmd.c_str()) == 0;
  }();
  if (!ok) {
    MESSAGE("skipped: " << ReferencePython()
                        << " cannot import torchvision (python3-torchvision absent)");
    return nullptr;
  }
  return &dir;
}

size_t LineCount(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) + 1;
}

TEST_CASE(
    "checkpoint: torchvision resnet18 in zip, legacy and timm-named files reads bit for bit") {
  const testing::TempDir* dir = Exported();
  if (dir == nullptr) return;
  auto ref = ReadSafetensors(*dir / "resnet18_ref.safetensors");
  REQUIRE_MESSAGE(ref.ok(), ref.status().ToString());
  for (const auto& [file, format] :
       {std::pair{"resnet18.pth", CheckpointFormat::kTorchZip},
        std::pair{"resnet18_legacy.pth", CheckpointFormat::kTorchLegacy},
        std::pair{"resnet18_timm.safetensors", CheckpointFormat::kSafetensors}}) {
    INFO(file);
    const std::string path = *dir / file;
    auto checkpoint = ReadCheckpoint(path);
    REQUIRE_MESSAGE(checkpoint.ok(), checkpoint.status().ToString());
    CHECK((checkpoint->format == format));
    CHECK(checkpoint->sha256 == ContentId::Of(testing::Must(ReadFile(path))).Hex());
    auto tensors = CanonicalNames("resnet18", std::move(checkpoint->tensors));
    REQUIRE(tensors.ok());
    auto fit = CheckArchitecture("resnet18", 3, &*tensors, path);
    REQUIRE_MESSAGE(fit.ok(), fit.status().ToString());
    CHECK(fit->num_classes == 1000);
    CHECK(fit->head_prefix == "fc.");
    CHECK(fit->parameters == 11689512);  // torchvision's sum(p.numel()) for resnet18
    CHECK(tensors->size() == ref->tensors.size());
    const bool timm = format == CheckpointFormat::kSafetensors;
    for (const auto& [name, want] : ref->tensors) {
      INFO(name);
      REQUIRE(tensors->count(name) == 1);
      const torch::Tensor& got = tensors->at(name);
      CHECK(std::string(c10::toString(got.scalar_type())) == c10::toString(want.scalar_type()));
      if (timm && name.ends_with("num_batches_tracked")) {
        CHECK(got.item<int64_t>() == 0);  // absent from timm's file: added as zero
      } else {
        CHECK(torch::equal(got, want));
      }
    }
  }
}

TEST_CASE("checkpoint: a pickle naming anything a state_dict does not hold is refused unrun") {
  const testing::TempDir* dir = Exported();
  if (dir == nullptr) return;
  for (const char* file : {"evil_zip.pth", "evil_legacy.pth", "evil.pkl"}) {
    INFO(file);
    const std::string path = *dir / file;
    auto checkpoint = ReadCheckpoint(path);
    REQUIRE_FALSE(checkpoint.ok());
    const std::string msg = checkpoint.status().message();
    CHECK(msg.rfind(path + ": ", 0) == 0);
    CHECK(msg.find("refusing pickle global 'posix.system'") != std::string::npos);
    CHECK(LineCount(msg) == 1);
  }
  CHECK_FALSE(testing::Exists(*dir / "marker"));
}

TEST_CASE("checkpoint: another architecture's checkpoint is one line naming a tensor") {
  const testing::TempDir* dir = Exported();
  if (dir == nullptr) return;
  auto r34 = ReadCheckpoint(*dir / "resnet34.pth");
  REQUIRE(r34.ok());
  auto fit = CheckArchitecture("resnet18", 3, &r34->tensors, *dir / "resnet34.pth");
  REQUIRE_FALSE(fit.ok());
  std::string msg = fit.status().message();
  INFO(msg);
  CHECK(LineCount(msg) == 1);
  CHECK(msg.rfind(*dir / "resnet34.pth: not a resnet18 checkpoint: 'layer1.2.bn1.bias' [64] is "
                         "not a tensor of resnet18 (and ",
                  0) == 0);

  // Shapes differ: both are named.
  auto r50 = ReadCheckpoint(*dir / "resnet50_part.pth");
  REQUIRE(r50.ok());
  fit = CheckArchitecture("resnet18", 3, &r50->tensors, "resnet50_part.pth");
  REQUIRE_FALSE(fit.ok());
  msg = fit.status().message();
  INFO(msg);
  CHECK(LineCount(msg) == 1);
  CHECK(msg.find("resnet50_part.pth: not a resnet18 checkpoint: 'layer1.0.conv1.weight' is "
                 "[64, 64, 1, 1] in the file, [64, 64, 3, 3] in resnet18 (and ") == 0);
}

TEST_CASE("checkpoint: views, integer tensors, and truncated or corrupt files") {
  const testing::TempDir* dir = Exported();
  if (dir == nullptr) return;
  auto ref = ReadSafetensors(*dir / "small_ref.safetensors");
  REQUIRE(ref.ok());
  for (const char* file : {"small.pth", "small_legacy.pth"}) {
    INFO(file);
    const std::string path = *dir / file;
    auto checkpoint = ReadCheckpoint(path);
    REQUIRE_MESSAGE(checkpoint.ok(), checkpoint.status().ToString());
    REQUIRE(checkpoint->tensors.size() == 2);
    CHECK(torch::equal(checkpoint->tensors.at("a"), ref->tensors.at("a")));
    CHECK(torch::equal(checkpoint->tensors.at("b"), ref->tensors.at("b")));
    CHECK((checkpoint->tensors.at("b").scalar_type() == torch::kInt64));

    // Every truncation is an error that names the file, never a crash.
    const std::string bytes = testing::Must(ReadFile(path));
    for (size_t n = 0; n < bytes.size(); n += 7) {
      auto cut = ParseCheckpoint(std::string_view(bytes).substr(0, n), "cut.pth");
      REQUIRE(!cut.ok());
      CHECK(cut.status().message().rfind("cut.pth: ", 0) == 0);
      CHECK(LineCount(cut.status().message()) == 1);
    }
    // Corrupt bytes inside the pickle likewise.
    for (size_t at = 0; at < bytes.size(); at += 3) {
      std::string bad = bytes;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      auto parsed = ParseCheckpoint(bad, "bad.pth");
      if (!parsed.ok()) CHECK(parsed.status().message().rfind("bad.pth: ", 0) == 0);
    }
  }
  auto none = ParseCheckpoint("hello", "hello.txt");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message() ==
        "hello.txt: not a checkpoint (neither a torch.save file nor safetensors)");
}

TEST_CASE("checkpoint: timm ViT names map to torchvision's through the one table") {
  CHECK(TimmToTorchvisionName("vit_b_16", "patch_embed.proj.weight") == "conv_proj.weight");
  CHECK(TimmToTorchvisionName("vit_b_16", "cls_token") == "class_token");
  CHECK(TimmToTorchvisionName("vit_b_16", "pos_embed") == "encoder.pos_embedding");
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.11.norm1.bias") ==
        "encoder.layers.encoder_layer_11.ln_1.bias");
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.3.attn.qkv.weight") ==
        "encoder.layers.encoder_layer_3.self_attention.in_proj_weight");
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.3.attn.qkv.bias") ==
        "encoder.layers.encoder_layer_3.self_attention.in_proj_bias");
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.0.attn.proj.weight") ==
        "encoder.layers.encoder_layer_0.self_attention.out_proj.weight");
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.0.norm2.weight") ==
        "encoder.layers.encoder_layer_0.ln_2.weight");
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.5.mlp.fc1.weight") ==
        "encoder.layers.encoder_layer_5.mlp.0.weight");
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.5.mlp.fc2.bias") ==
        "encoder.layers.encoder_layer_5.mlp.3.bias");
  CHECK(TimmToTorchvisionName("vit_b_16", "norm.weight") == "encoder.ln.weight");
  CHECK(TimmToTorchvisionName("vit_b_16", "head.bias") == "heads.head.bias");
  CHECK(TimmToTorchvisionName("vit_b_16", "pos_embed_extra").empty());
  CHECK(TimmToTorchvisionName("vit_b_16", "blocks.x.norm1.bias").empty());
  CHECK(TimmToTorchvisionName("resnet18", "layer1.0.conv1.weight").empty());
}

}  // namespace
}  // namespace vrepo::train
