// Base models under refs/models/: import checks and records, list/show/rm, and training from
// one (the run names the model's commit as a parent).
// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include "vrepo/train/model_store.h"

#include "vrepo/train/models.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/train/trainer.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
// clang-format on

#include <set>

#include "train/train_fixture.h"

namespace vrepo::train {
namespace {

using vrepo::testing::Must;
using vrepo::testing::SmallTrainConfig;
using vrepo::testing::TrainRepo;

// A small-cnn checkpoint (10 classes, 1 channel) at `path`, as another tool would write it.
TensorMap WriteSmallCnn(const std::string& path, uint64_t seed) {
  torch::manual_seed(seed);
  Model m = Must(MakeModel("small-cnn", 10, 1));
  TensorMap state = StateDict(*m);
  Must(WriteSafetensors(path, state));
  return state;
}

size_t ModelRefs(Repository& repo) {
  return Must(repo.history().RefsWithPrefix("refs/models/")).size();
}

TEST_CASE("model store: import records model.json and the weights under refs/models/NAME") {
  TrainRepo r(20);
  const std::string path = r.Path("sc.safetensors");
  TensorMap state = WriteSmallCnn(path, 3);
  ImportOptions o;
  o.arch = "small-cnn";
  ModelRecord m = Must(ImportModel(*r.repo, path, o));
  CHECK(m.name == "sc");
  CHECK(Must(r.repo->history().ReadRef("refs/models/sc")).value_or("") == m.commit);
  CHECK(m.info.arch == "small-cnn");
  CHECK(m.info.num_classes == 10);
  CHECK(m.info.classes ==
        std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  CHECK(m.info.preprocessing == Must(DefaultPreprocessing("small-cnn")));
  CHECK(m.info.source_file == "sc.safetensors");
  CHECK(m.info.source_format == "safetensors");
  CHECK(m.info.source_sha256 == ContentId::Of(Must(ReadFile(path))).Hex());
  CHECK(m.info.parameters == CountParameters(*Must(MakeModel("small-cnn", 10, 1))));
  std::set<std::string> files;
  for (const auto& f : m.files) files.insert(f.path);
  CHECK(files == std::set<std::string>{"model.json", "model.safetensors"});
  SafetensorsFile stored = Must(ParseSafetensors(Must(ReadModelWeights(*r.repo, m)), "stored"));
  REQUIRE(stored.tensors.size() == state.size());
  for (const auto& [name, t] : state) CHECK_MESSAGE(torch::equal(stored.tensors.at(name), t), name);
  CHECK(Must(r.repo->history().GetCommit(m.commit)).parents.empty());

  // Found as NAME, model:NAME and refs/models/NAME; listed.
  CHECK(Must(ReadModel(*r.repo, "model:sc")).commit == m.commit);
  CHECK(Must(ReadModel(*r.repo, "refs/models/sc")).commit == m.commit);
  CHECK(ReadModel(*r.repo, "nope").status().message() == "unknown model 'nope'");
  REQUIRE(Must(ListModels(*r.repo)).size() == 1);

  // A taken name is refused; --force replaces it.
  auto again = ImportModel(*r.repo, path, o);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message() == "model 'sc' already exists (--force replaces it)");
  WriteSmallCnn(path, 4);
  o.force = true;
  ModelRecord replaced = Must(ImportModel(*r.repo, path, o));
  CHECK(replaced.commit != m.commit);
  CHECK(replaced.info.source_sha256 != m.info.source_sha256);

  // Class names from a file, and the preprocessing overridden.
  std::string names;
  for (int i = 0; i < 10; ++i) names += "class " + std::to_string(i) + "\n";
  r.Write("classes.txt", names);
  r.Write("classes.json", R"(["a","b","c","d","e","f","g","h","i","j"])");
  ImportOptions named;
  named.arch = "small-cnn";
  named.name = "named";
  named.classes_file = r.Path("classes.json");
  named.mean = {0.25};
  named.std = {0.75};
  named.input_size = 32;
  ModelRecord n = Must(ImportModel(*r.repo, path, named));
  CHECK(n.info.classes.front() == "a");
  CHECK(n.info.classes.back() == "j");
  CHECK(n.info.preprocessing.crop == 32);
  CHECK(n.info.preprocessing.resize == 32);  // small-cnn resizes to its crop
  CHECK(n.info.preprocessing.mean == std::vector<double>{0.25});
  CHECK(n.info.preprocessing.std == std::vector<double>{0.75});
  named.name = "named2";
  named.classes_file = r.Path("classes.txt");
  CHECK(Must(ImportModel(*r.repo, path, named)).info.classes[3] == "class 3");

  // Bad input is one line and stores nothing.
  const size_t before = ModelRefs(*r.repo);
  r.Write("three.txt", "a\nb\nc\n");
  struct Case {
    std::string arch, classes, name;
    std::vector<double> mean;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {"small-cnn",
            r.Path("three.txt"),
            "x1",
            {},
            r.Path("three.txt") +
                ": 3 class names, but the checkpoint's head 'fc.weight' has 10 classes"},
           {"resnet18", "", "x2", {}, path + ": not a resnet18 checkpoint: '"},
           {"nonet", "", "x3", {}, "unknown architecture 'nonet' (one of small-cnn, resnet18"},
           {"small-cnn", "", "x4", {0.1, 0.2, 0.3}, "preprocessing.mean is not a list of 1"},
           {"small-cnn", "", "bad/name", {}, "invalid model name 'bad/name'"},
       }) {
    ImportOptions bad;
    bad.arch = c.arch;
    bad.classes_file = c.classes;
    bad.name = c.name;
    bad.mean = c.mean;
    auto res = ImportModel(*r.repo, path, bad);
    REQUIRE_FALSE(res.ok());
    INFO(res.status().message());
    CHECK(res.status().message().find(c.text) != std::string::npos);
    CHECK(res.status().message().find('\n') == std::string::npos);
  }
  CHECK(ModelRefs(*r.repo) == before);

  // rm deletes the ref only.
  Must(RemoveModel(*r.repo, n));
  CHECK(ReadModel(*r.repo, "named").status().code() == Status::Code::kNotFound);
  CHECK(r.repo->history().HasCommit(n.commit));
}

TEST_CASE("model store: train --base model:NAME loads it and records the model commit") {
  TrainRepo r(300);
  const std::string path = r.Path("base.safetensors");
  WriteSmallCnn(path, 5);
  ImportOptions o;
  o.arch = "small-cnn";
  ModelRecord m = Must(ImportModel(*r.repo, path, o));

  ResolvedBase base = Must(ResolveBase(*r.repo, "model:base"));
  CHECK(base.arch == "small-cnn");
  CHECK(base.model_commit == m.commit);
  CHECK(base.content_id == m.info.weights_id);
  REQUIRE(base.preprocessing.has_value());
  CHECK(*base.preprocessing == m.info.preprocessing);
  CHECK(Must(BaseArchitecture(*r.repo, "model:base")) == "small-cnn");

  TrainConfig c = SmallTrainConfig("cpu");
  c.base = "model:base";
  c.name = "tuned";
  TrainResult res = Must(Train(*r.repo, c, {}));
  CHECK(res.base_model_commit == m.commit);
  CHECK(res.base_model_id == m.info.weights_id);
  CHECK(res.base_run_commit.empty());
  std::string commit = Must(WriteRunRecord(*r.repo, ManifestOf(res), res.weights));
  RunRecord run = Must(ReadRun(*r.repo, "tuned"));
  CHECK(run.commit == commit);
  CHECK(run.parents == std::vector<std::string>{r.commit, m.commit});
  CHECK(run.manifest.base_model_commit == m.commit);
  CHECK(run.manifest.base_spec == "model:base");
  CHECK(ToJson(run.manifest)["base"]["model_commit"] == m.commit);

  // A run from that run names the run, and the architecture follows it.
  CHECK(Must(BaseArchitecture(*r.repo, "run:tuned")) == "small-cnn");

  // Another architecture than the model's is refused before training.
  TrainConfig wrong = c;
  wrong.name = "wrong";
  wrong.model = "resnet18";
  auto refused = Train(*r.repo, wrong, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "--base model:base is a small-cnn model, not resnet18 (leave --model out)");
  TrainConfig missing = c;
  missing.name = "missing";
  missing.base = "model:none";
  CHECK(Train(*r.repo, missing, {}).status().message() == "unknown model 'model:none'");
}

}  // namespace
}  // namespace vrepo::train
