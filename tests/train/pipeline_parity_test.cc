// The whole path a user takes with a torchvision checkpoint, against Debian's
// python3-torchvision (pipeline_reference.py): the `.pth` torch.save wrote (zip and legacy
// formats) is imported as a model (read directly for the two big ones), built, and given
// odd-sized RGB, gray and JPEG image files through the model's eval transform; the
// probabilities must be torchvision's.
// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include "vrepo/train/model_store.h"

#include "vrepo/train/checkpoint.h"
#include "vrepo/train/run_model.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/train/transforms.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
// clang-format on

#include <cstdlib>
#include <vector>

#include "must.h"
#include "testing.h"
#include "train/reference_python.h"
#include "vrepo/dataset/image.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;
using vrepo::testing::Must;
using vrepo::testing::ReferencePython;
using vrepo::testing::SkipWithoutTorchvision;

// The imported model as eval and predict build one: its weights read back from the store,
// checked against the content id model.json names, loaded strictly.
Model BuildImported(Repository& repo, const ModelRecord& record) {
  RunModel run;
  run.arch = record.info.arch;
  run.classes = record.info.classes;
  run.channels = record.info.preprocessing.channels;
  run.preprocessing = record.info.preprocessing;
  run.tensors = Must(ParseSafetensors(Must(ReadModelWeights(repo, record)), record.name)).tensors;
  return Must(BuildRunModel(run));
}

TEST_CASE("pipeline parity: an imported torchvision .pth gives torchvision's probabilities") {
  if (SkipWithoutTorchvision()) return;
  testing::TempDir dir;
  std::string script = std::string(VREPO_SOURCE_DIR) + "/tests/train/pipeline_reference.py";
  std::string cmd = ReferencePython() + " " + script + " " + dir.path();
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
  SafetensorsFile ref = Must(ReadSafetensors(dir / "reference.safetensors"));
  json cases = json::parse(ref.metadata.at("cases"));
  REQUIRE(cases.size() == 5);

  testing::TempDir repo_dir;
  std::unique_ptr<Repository> repo = Must(Repository::Init(repo_dir.path()));
  for (const json& c : cases) {
    const std::string arch = c["arch"];
    INFO(arch);
    const std::string file = dir / c["file"].get<std::string>();
    Preprocessing pre;
    Model model;
    if (arch == "convnext_tiny" || arch == "vit_b_16") {
      // The two big ones skip the store (import builds the model thrice to check names and
      // shapes, 10-30 s for these): the same checkpoint reader, the architecture's default
      // preprocessing, a strict load. The store's round trip is the same for every arch.
      pre = Must(DefaultPreprocessing(arch));
      if (c["crop"] != 224) pre = Must(WithImageSize(pre, c["crop"]));
      Checkpoint checkpoint = Must(ReadCheckpoint(file));
      CHECK(CheckpointFormatName(checkpoint.format) == std::string("torch-zip"));
      RunModel run;
      run.arch = arch;
      run.classes.assign(10, "class");
      run.channels = pre.channels;
      run.preprocessing = pre;
      run.tensors = std::move(checkpoint.tensors);
      model = Must(BuildRunModel(run));
    } else {
      ImportOptions options;
      options.arch = arch;
      options.input_size = c["crop"];  // --input-size 64
      ModelRecord record = Must(ImportModel(*repo, file, options));
      CHECK(record.info.source_format == (arch == "resnet18" ? "torch-legacy" : "torch-zip"));
      pre = record.info.preprocessing;
      model = BuildImported(*repo, record);
    }
    // The resize torchvision was given is the one vrepo resolves: round(crop * 256 / 224).
    CHECK(pre.crop == c["crop"]);
    CHECK(pre.resize == c["resize"]);
    CHECK(pre.channels == 3);

    std::vector<torch::Tensor> inputs;
    for (const json& image : c["images"]) {
      const std::string path = dir / image.get<std::string>();
      DecodedImage decoded = Must(DecodeImage(testing::ReadFileOrDie(path), path));
      inputs.push_back(Must(EvalTransform(decoded, pre, path)));
    }
    torch::NoGradGuard no_grad;
    torch::Tensor got = torch::softmax(model->forward(torch::stack(inputs)), 1);
    const torch::Tensor& want = ref.tensors.at(arch);
    REQUIRE(got.sizes() == want.sizes());
    const float diff = (got - want).abs().max().item<float>();
    MESSAGE(arch << ": max abs probability difference against torchvision "
                 << ref.metadata.at("torchvision") << ": " << diff);
    CHECK(diff < 1e-4);
    // The images must tell apart: a network whose signal died out would pass trivially.
    CHECK((want[0] - want[1]).abs().max().item<float>() > 0.05);
  }
}

}  // namespace
}  // namespace vrepo::train
