// vrepo predict: a run's model (LoRA merged) or an imported model classifies image files from
// disk through the recorded preprocessing, agreeing with eval on the same samples and with
// torchvision on the exported model; bad files fail before anything is printed.
#include "vrepo/train/predict.h"

// clang-format off
#include <doctest/doctest.h>
// clang-format on

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include "cli/cli_support.h"
#include "train/reference_python.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

using testing::CommandResult;
using testing::Json;
using testing::MustRun;
using testing::ReferencePython;
using testing::RunVrepo;
using testing::SkipWithoutTorchvision;

TEST_CASE("predict: top classes are the most probable first, ties by index, capped at k") {
  std::vector<ClassScore> top = TopClasses({0.1F, 0.4F, 0.1F, 0.4F}, {"a", "b", "c", "d"}, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].index == 1);
  CHECK(top[0].name == "b");
  CHECK(top[1].index == 3);
  CHECK(top[2].index == 0);
  CHECK(top[2].probability == doctest::Approx(0.1));
  CHECK(TopClasses({0.5F, 0.5F}, {"a", "b"}, 5).size() == 2);
}

// "path" -> the top entries of `vrepo predict --json` output.
std::map<std::string, Json> ByPath(const std::string& out) {
  std::map<std::string, Json> m;
  for (const Json& e : Json::Parse(out).items) m[e["path"].str] = e["top"];
  return m;
}

TEST_CASE("predict cli: files agree with eval, --labels and torchvision, models, bad input") {
  if (SkipWithoutTorchvision()) return;
  testing::TempDir d;
  const std::string script = std::string(VREPO_SOURCE_DIR) + "/tests/train/lora_torchvision.py";
  const std::string data = ReferencePython() + " " + script + " data " + d.path();
  REQUIRE_MESSAGE(std::system(data.c_str()) == 0, data);
  const std::string repo = d / "repo";
  MustRun(repo, {"init"});
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "colours"});
  MustRun(repo, {"train",
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
  const std::vector<std::string> images = {"images/red/00.png", "images/blue/01.png",
                                           "images/red/14.png"};

  // Files from disk, and the same samples read from the store by eval and by --labels.
  std::vector<std::string> args = {"predict", "adapted", "--json"};
  args.insert(args.end(), images.begin(), images.end());
  CommandResult files = MustRun(repo, args);
  testing::WriteFile(d / "predict.json", files.out);
  std::map<std::string, Json> predicted = ByPath(files.out);
  REQUIRE(predicted.size() == 3);
  for (const auto& [path, top] : predicted) CHECK(top.items.size() == 2);  // capped: 2 classes
  Json eval =
      Json::Parse(MustRun(repo, {"eval", "adapted", "--labels", "labels.csv", "--json"}).out);
  std::map<std::string, std::map<std::string, double>> from_table = [](const std::string& out) {
    std::map<std::string, std::map<std::string, double>> m;
    for (const auto& [path, top] : ByPath(out)) {
      for (const Json& c : top.items) m[path][c["class"].str] = c["probability"].number;
    }
    return m;
  }(MustRun(repo, {"predict", "adapted", "--labels", "labels.csv", "--json"}).out);
  CHECK(from_table.size() == 16);
  size_t compared = 0;
  for (const Json& p : eval["predictions"].items) {
    auto it = predicted.find(p["path"].str);
    if (it == predicted.end()) continue;
    ++compared;
    const Json& top = it->second[0];
    CHECK(top["class"].str == p["predicted"].str);
    CHECK(std::abs(top["probability"].number - p["confidence"].number) < 1e-5);
    for (const Json& c : it->second.items) {
      CHECK(std::abs(from_table[it->first][c["class"].str] - c["probability"].number) < 1e-5);
    }
  }
  CHECK(compared == 3);
  CommandResult text = MustRun(repo, {"predict", "adapted", images[0], "--top", "1"});
  CHECK(text.out.starts_with("PATH"));
  CHECK(text.out.find(images[0]) != std::string::npos);

  // torchvision, given the export, predicts what vrepo predicts.
  MustRun(repo, {"export", "adapted", "--out", "../export"});
  std::string check =
      ReferencePython() + " " + script + " check " + (d / "export") + " " + (d / "predict.json");
  for (const auto& image : images) check += " " + (repo + "/" + image);
  CHECK_MESSAGE(std::system(check.c_str()) == 0, check);

  // An imported torchvision checkpoint, at a tiny input size; torchvision agrees on it too.
  MustRun(repo, {"model", "import", "../base.safetensors", "--arch", "resnet18", "--name", "base",
                 "--input-size", "32", "--resize", "32"});
  args = {"predict", "model:base", "--top", "3", "--json"};
  args.insert(args.end(), images.begin(), images.end());
  CommandResult imported = MustRun(repo, args);
  for (const auto& [path, top] : ByPath(imported.out)) {
    REQUIRE(top.items.size() == 3);
    CHECK(top[0]["class"].str == std::to_string(static_cast<int>(top[0]["index"].number)));
    CHECK(top[0]["probability"].number >= top[1]["probability"].number);
  }
  REQUIRE(MakeDirs(d / "base").ok());
  auto base = ReadFile(d / "base.safetensors");
  REQUIRE(base.ok());
  testing::WriteFile(d / "base/model.safetensors", *base);
  testing::WriteFile(d / "base/classes.json", R"(["0","1","2","3","4","5","6","7","8","9"])");
  testing::WriteFile(d / "base/preprocessing.json",
                     R"({"resize": 32, "crop": 32, "mean": [0.485, 0.456, 0.406],)"
                     R"( "std": [0.229, 0.224, 0.225], "channels": 3})");
  testing::WriteFile(d / "imported.json", imported.out);
  check = ReferencePython() + " " + script + " check " + (d / "base") + " " + (d / "imported.json");
  for (const auto& image : images) check += " " + (repo + "/" + image);
  CHECK_MESSAGE(std::system(check.c_str()) == 0, check);

  // Bad input: one line naming the file, nothing printed for the good ones.
  testing::WriteFile(repo + "/corrupt.png", "\x89PNG\r\n\x1a\n not really");
  for (const std::string bad : {"missing.png", "corrupt.png"}) {
    CommandResult r = RunVrepo(repo, {"predict", "adapted", images[0], bad});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("vrepo: predict: " + bad + ": "));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CommandResult zero = RunVrepo(repo, {"predict", "adapted", images[0], "--top", "0"});
  CHECK(zero.exit_code == 128);
  CHECK(zero.err == "vrepo: predict: --top must be at least 1\n");
  CHECK(RunVrepo(repo, {"predict", "adapted"}).exit_code == 129);  // no PATH nor --labels
  CHECK(RunVrepo(repo, {"predict", "nosuchrun", images[0]}).exit_code == 128);
}

}  // namespace
}  // namespace vrepo::train
