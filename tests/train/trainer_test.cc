#include "vrepo/train/trainer.h"

// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include <torch/cuda.h>

#include "vrepo/dataset/label_table.h"
#include "vrepo/train/models.h"
#include "vrepo/train/reproduce.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
// clang-format on

#include <fstream>
#include <set>

#include "train/train_fixture.h"

namespace vrepo::train {
namespace {

using vrepo::testing::Must;
using vrepo::testing::SmallTrainConfig;
using vrepo::testing::TrainRepo;

size_t RunCount(Repository& repo) {
  return Must(repo.history().RefsWithPrefix("refs/runs/")).size();
}

TEST_CASE("trainer: small-cnn on 5,000 Fashion-MNIST images reaches 80% on 1,000 test images") {
  TrainRepo r(5000, 1000);
  TrainConfig c = SmallTrainConfig("cpu");
  c.val_labels = "test.csv";
  c.epochs = 2;
  c.batch_size = 64;
  c.lr = 1e-3;
  std::vector<std::string> lines;
  TrainHooks hooks;
  testing::LineReporter reporter([&](const std::string& line) { lines.push_back(line); });
  hooks.reporter = &reporter;
  TrainResult res = Must(Train(*r.repo, c, hooks));
  REQUIRE(res.epochs.size() == 2);
  const EpochMetrics& last = res.epochs.back();
  MESSAGE("val accuracy " << last.val_accuracy << ", " << last.images_per_second << " img/s, epoch "
                          << last.seconds << " s");
  CHECK(last.val_accuracy >= 0.80);
  CHECK(res.status == RunStatus::kCompleted);
  CHECK(res.train_samples == 5000);
  CHECK(res.val_samples == 1000);
  CHECK(res.classes.size() == 10);
  CHECK(res.epochs[0].per_class_accuracy.size() == 10);
  CHECK(res.train_digest == SampleDigestOf(r.Version("labels.csv")));
  CHECK(res.val_digest == SampleDigestOf(r.Version("test.csv")));
  CHECK(res.config.device == "cpu");
  CHECK(res.config.precision == "fp32");  // auto on the CPU
  CHECK(res.config.workers > 0);
  CHECK(res.confusion.size() == 10);
  int64_t total = 0;
  for (const auto& row : res.confusion) {
    for (int64_t v : row) total += v;
  }
  CHECK(total == 1000);
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back().find("img/s") != std::string::npos);

  // Evaluating the weights on the same table agrees with the best epoch.
  EvalOptions eo;
  eo.labels = "test.csv";
  eo.device = "cpu";
  EvalResult ev = Must(Evaluate(*r.repo, res.weights, eo));
  CHECK(ev.samples == 1000);
  CHECK(ev.accuracy == doctest::Approx(res.epochs[res.best_epoch - 1].val_accuracy));
  auto suspects = Suspects(ev, 5);
  REQUIRE(suspects.size() == 5);
  CHECK(suspects[0].label_probability <= suspects[4].label_probability);
  CHECK(suspects[0].predicted != suspects[0].label);
}

TEST_CASE("trainer: deterministic runs give bit-identical weights") {
  TrainRepo r(400);
  TrainConfig c = SmallTrainConfig("cpu");
  c.deterministic = true;
  c.augment = {"flip", "crop"};
  c.epochs = 2;
  c.workers = 3;
  TrainResult a = Must(Train(*r.repo, c, {}));
  c.workers = 1;  // thread timing must not matter
  TrainResult b = Must(Train(*r.repo, c, {}));
  CHECK(a.weights == b.weights);
  CHECK(a.train_digest == b.train_digest);
  CHECK(a.epochs[1].train_loss == b.epochs[1].train_loss);
  c.seed = 2;
  TrainResult other = Must(Train(*r.repo, c, {}));
  CHECK(other.weights != a.weights);
  // The split is by (seed, path), and both splits together are the table.
  CHECK(a.train_samples + a.val_samples == 400);
  CHECK(a.val_samples > 10);
}

// Whether the CPU computes in bf16 itself (AVX-512 BF16 or AMX); elsewhere oneDNN emulates it,
// some 20 times slower than fp32.
bool NativeBf16() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      return line.find(" avx512_bf16") != std::string::npos ||
             line.find(" amx_bf16") != std::string::npos;
    }
  }
  return false;
}

TEST_CASE("trainer: bf16 autocast on the CPU learns, is recorded, and repeats bit for bit") {
  // 5,000 images for two epochs: seconds with native bf16, minutes emulated, so a CPU without
  // it checks what a smaller run can show (recorded, repeatable, different from fp32).
  if (NativeBf16()) {
    TrainRepo r(5000, 1000);
    TrainConfig c = SmallTrainConfig("cpu");
    c.val_labels = "test.csv";
    c.epochs = 2;
    c.batch_size = 64;
    c.precision = "bf16";
    TrainResult res = Must(Train(*r.repo, c, {}));
    MESSAGE("bf16 val accuracy " << res.epochs.back().val_accuracy << ", "
                                 << res.epochs.back().images_per_second << " img/s");
    CHECK(res.epochs.back().val_accuracy >= 0.80);
    CHECK(res.config.device == "cpu");
    CHECK(res.config.precision == "bf16");
  } else {
    MESSAGE("this CPU has no native bf16: the 5,000-image accuracy check is skipped");
  }

  // Deterministic bf16 runs repeat exactly, and autocast really changes the arithmetic.
  TrainRepo small(400);
  TrainConfig d = SmallTrainConfig("cpu");
  d.deterministic = true;
  d.epochs = 1;
  d.precision = "bf16";
  TrainResult a = Must(Train(*small.repo, d, {}));
  CHECK(a.config.precision == "bf16");
  TrainResult b = Must(Train(*small.repo, d, {}));
  CHECK(a.weights == b.weights);
  d.precision = "fp32";
  TrainResult fp32 = Must(Train(*small.repo, d, {}));
  CHECK(fp32.weights != a.weights);
}

TEST_CASE("eval: weights whose metadata sizes the batches are checked before use") {
  TrainRepo r(100);
  TrainResult res = Must(Train(*r.repo, SmallTrainConfig("cpu"), {}));
  SafetensorsFile file = Must(ParseSafetensors(res.weights, "w"));
  EvalOptions eo;
  eo.labels = "labels.csv";
  eo.device = "cpu";
  CHECK(Evaluate(*r.repo, res.weights, eo).ok());
  auto with = [&](const char* key, const char* value) {
    auto meta = file.metadata;
    meta[key] = value;
    if (std::string(key) != "preprocessing") meta.erase("preprocessing");  // a legacy run's
    return Evaluate(*r.repo, Must(SerializeSafetensors(file.tensors, meta)), eo).status();
  };
  REQUIRE(file.metadata.count("preprocessing") == 1);
  CHECK(file.metadata.count("image_size") == 0);
  Status st = with("preprocessing", R"({"resize": 28, "crop": 100000, "channels": 1,
      "mean": [0.5], "std": [0.5], "interpolation": "bilinear"})");
  CHECK(st.code() == Status::Code::kCorruption);
  CHECK(st.message() == "model.safetensors metadata: preprocessing.crop is out of range 1..4096");
  st = with("preprocessing", "not json");
  CHECK(st.message() == "model.safetensors metadata: preprocessing is not an object");
  st = with("channels", "7");
  CHECK(st.code() == Status::Code::kCorruption);
  CHECK(st.message() == "model.safetensors: metadata channels '7' is not 1 or 3");
  st = with("image_size", "100000");
  CHECK(st.code() == Status::Code::kCorruption);
  CHECK(st.message().find("metadata image_size '100000' is not between 0 and 4096") !=
        std::string::npos);
  // A pixel limit below the dataset's images refuses them by name.
  eo.max_image_pixels = 100;
  st = Evaluate(*r.repo, res.weights, eo).status();
  CHECK(st.message().find("28x28 image exceeds the limit of 100 pixels") != std::string::npos);
}

TEST_CASE("run record: commit, parents, run.json, ref and round trip") {
  TrainRepo r(300);
  TrainConfig c = SmallTrainConfig("cpu");
  c.name = "first";
  TrainResult res = Must(Train(*r.repo, c, {}));
  std::string commit =
      Must(WriteRunRecord(*r.repo, ManifestOf(res), res.weights, res.val_predictions));

  RunRecord run = Must(ReadRun(*r.repo, "first"));
  CHECK(run.commit == commit);
  CHECK(run.name == "first");
  CHECK(run.parents == std::vector<std::string>{r.commit});
  std::set<std::string> paths;
  for (const auto& f : run.files) paths.insert(f.path);
  CHECK(paths == std::set<std::string>{"metrics.jsonl", "model.safetensors", "plots/accuracy.png",
                                       "plots/confusion.png", "plots/loss.png",
                                       "predictions/val.csv", "run.json"});
  // One prediction per validation sample, by path, and together they are the confusion matrix.
  const std::string csv = Must(ReadRunFile(*r.repo, run, "predictions/val.csv"));
  const LabelTable predictions = Must(ParseCsvTable(csv, "val.csv", {"path", "predicted"}));
  CHECK(predictions.rows.size() == run.manifest.val.samples);
  CHECK(std::is_sorted(predictions.rows.begin(), predictions.rows.end(),
                       [](const auto& a, const auto& b) { return a.path < b.path; }));
  std::vector<std::vector<int64_t>> counted(10, std::vector<int64_t>(10, 0));
  const auto& classes = run.manifest.classes;
  auto index = [&](const std::string& c) {
    return std::find(classes.begin(), classes.end(), c) - classes.begin();
  };
  const LabelTable truth = Must(ParseCsvTable(csv, "val.csv", {"path", "label"}));
  for (size_t i = 0; i < predictions.rows.size(); ++i) {
    counted[index(truth.rows[i].label)][index(predictions.rows[i].label)]++;
  }
  CHECK(counted == run.manifest.confusion);
  // The library draws the plots when it records the run.
  CHECK(Must(ReadRunFile(*r.repo, run, "plots/loss.png")).rfind("\x89PNG", 0) == 0);
  const nlohmann::json j = ToJson(run.manifest);
  CHECK(run.manifest.status == RunStatus::kCompleted);
  CHECK(run.manifest.train.sample_digest == res.train_digest);
  CHECK(j["status"] == "completed");
  CHECK(j["dataset"]["commit"] == r.commit);
  CHECK(j["dataset"]["tree"] == Must(r.repo->history().GetCommit(r.commit)).tree);
  CHECK(j["splits"]["train"]["sample_digest"] == res.train_digest);
  CHECK(j["splits"]["val"]["sample_digest"] == res.val_digest);
  CHECK(j["config"]["seed"] == 1);
  CHECK(j["config"]["device"] == "cpu");
  CHECK(j["weights"]["content_id"] == ContentId::Of(res.weights).Hex());
  CHECK(j["versions"]["libtorch"].get<std::string>().size() > 0);
  CHECK(j["versions"]["source_revision"].get<std::string>().size() > 0);
  CHECK(j["epochs"].size() == 1);
  CHECK(j["classes"].size() == 10);
  CHECK(Must(ReadRunWeights(*r.repo, run)) == res.weights);
  CHECK(Must(ReadRunFile(*r.repo, run, "metrics.jsonl")).find("\"val_accuracy\"") !=
        std::string::npos);
  // The config read back from run.json trains the same thing.
  TrainConfig back = Must(ConfigFromJson(j["config"], "run.json"));
  CHECK(back.name == "first");
  CHECK(back.labels == "labels.csv");

  // Found by full and short commit id too; unknown names are NotFound.
  CHECK(Must(ReadRun(*r.repo, commit)).name == "first");
  CHECK(Must(ReadRun(*r.repo, commit.substr(0, 8))).commit == commit);
  CHECK(Must(ReadRun(*r.repo, "refs/runs/first")).commit == commit);
  CHECK(ReadRun(*r.repo, "nope").status().code() == Status::Code::kNotFound);
  CHECK(ReadRun(*r.repo, r.commit).status().code() == Status::Code::kNotFound);

  // The same name twice is refused.
  auto again = WriteRunRecord(*r.repo, ManifestOf(res), res.weights);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message() == "run name 'first' already exists");

  // A fine-tune from the run: second parent, base content id; the head is replaced for the
  // new class count (a table of 3 classes).
  std::string three = "path,label\n";
  for (const auto& s : r.Version().samples) {
    if (s.label == "bag" || s.label == "coat" || s.label == "sandal") {
      three += s.path + "," + s.label + "\n";
    }
  }
  r.Write("three.csv", three);
  std::string commit2 = r.CommitAll("three classes");
  TrainConfig f = SmallTrainConfig("cpu");
  f.labels = "three.csv";
  f.base = "run:first";
  f.freeze = "backbone";
  TrainResult tuned = Must(Train(*r.repo, f, {}));
  CHECK(tuned.base_run_commit == commit);
  CHECK(tuned.base_model_id == ContentId::Of(res.weights).Hex());
  CHECK(tuned.classes == std::vector<std::string>{"bag", "coat", "sandal"});
  std::string tuned_commit = Must(WriteRunRecord(*r.repo, ManifestOf(tuned), tuned.weights));
  RunRecord tr = Must(ReadRun(*r.repo, tuned_commit.substr(0, 12)));
  CHECK(tr.name == tuned_commit.substr(0, 12));  // unnamed: the short id
  CHECK(tr.parents == std::vector<std::string>{commit2, commit});
  CHECK(tr.manifest.base_model_id == tuned.base_model_id);

  // A taken name fails before training.
  auto taken = Train(*r.repo, c, {});
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.status().message() == "run name 'first' already exists");
  c.name = "bad name";
  CHECK(Train(*r.repo, c, {}).status().message().find("invalid run name") != std::string::npos);

  auto runs = Must(ListRuns(*r.repo));
  REQUIRE(runs.size() == 2);

  // gc keeps what runs reference.
  bool weights_reachable = false;
  ContentId wid = ContentId::Of(res.weights);
  Must(r.repo->history().ForEachReachableFile(
      [&](const FileEntry& e) { weights_reachable |= e.id == wid; }));
  CHECK(weights_reachable);
}

TEST_CASE("run record: a crafted run.json is refused naming the field, before anything reads it") {
  TrainRepo r(100);
  TrainConfig c = SmallTrainConfig("cpu");
  c.name = "honest";
  TrainResult res = Must(Train(*r.repo, c, {}));
  Must(WriteRunRecord(*r.repo, ManifestOf(res), res.weights));
  const nlohmann::json honest = ToJson(Must(ReadRun(*r.repo, "honest")).manifest);

  // Writes `run_json` as the record refs/runs/NAME, as a hostile remote could.
  auto craft = [&](const std::string& name, const std::string& run_json) {
    auto writer = Must(r.repo->store().NewWriter());
    ContentId id = Must(writer->Put(run_json));
    REQUIRE(writer->Commit(nullptr).ok());
    History& h = r.repo->history();
    std::string tree = Must(h.WriteTree({FileEntry{"run.json", id, run_json.size(), false}}));
    std::string commit = Must(h.CreateCommit(tree, {r.commit}, "run " + name));
    REQUIRE(h.CreateRef("refs/runs/" + name, commit).ok());
  };
  auto refused = [&](const std::string& name, const std::string& run_json) {
    craft(name, run_json);
    auto run = ReadRun(*r.repo, name);
    REQUIRE_FALSE(run.ok());
    CHECK(run.status().code() == Status::Code::kCorruption);
    return run.status().message();
  };
  auto with = [&](const char* ptr, nlohmann::json value) {
    nlohmann::json j = honest;
    j[nlohmann::json::json_pointer(ptr)] = std::move(value);
    return j.dump();
  };

  CHECK(refused("e1", with("/epochs", "many")).find("/epochs is not a list") != std::string::npos);
  CHECK(refused("e2", with("/weights/path", "../../x")).find("/weights/path") != std::string::npos);
  CHECK(refused("e3", with("/model", "cnn\x1b[2J")).find("holds a control character") !=
        std::string::npos);
  CHECK(refused("e4", with("/splits/train/table", "../labels.csv"))
            .find("/splits/train/table is not a path in a tree") != std::string::npos);
  CHECK(refused("e5", with("/dataset/commit", 7)).find("/dataset/commit is not 40 hex") !=
        std::string::npos);
  CHECK(refused("e6", with("/config/epochs", "x")).find("setting 'epochs'") != std::string::npos);
  CHECK(refused("e7", with("/classes", nlohmann::json::array({1, 2}))).find("/classes") !=
        std::string::npos);
  CHECK(
      refused("e8", R"({"format": 1, "x": )" + std::string(100, '[') + std::string(100, ']') + "}")
          .find("nests deeper than 16 levels") != std::string::npos);
  // Commands that take runs get the same one-line error, and --base run: too.
  CHECK(ListRuns(*r.repo).status().code() == Status::Code::kCorruption);
  TrainConfig f = SmallTrainConfig("cpu");
  f.base = "run:e1";
  CHECK(Train(*r.repo, f, {}).status().message().find("/epochs is not a list") !=
        std::string::npos);
  // The honest record still reads.
  CHECK(ToJson(Must(ReadRun(*r.repo, "honest")).manifest) == honest);
}

TEST_CASE("run record: an interrupted run is recorded as interrupted") {
  TrainRepo r(200);
  TrainConfig c = SmallTrainConfig("cpu");
  c.epochs = 3;
  c.batch_size = 16;
  c.name = "cut";
  std::atomic<bool> stop{false};
  TrainHooks hooks;
  hooks.interrupted = &stop;
  int lines = 0;
  // Ctrl-C during the second epoch.
  testing::LineReporter reporter([&](const std::string& line) {
    if (line.rfind("epoch 2/3  batch", 0) == 0 || ++lines > 20) stop = true;
  });
  hooks.reporter = &reporter;
  TrainResult res = Must(Train(*r.repo, c, hooks));
  CHECK(res.status == RunStatus::kInterrupted);
  CHECK(res.epochs.size() == 1);
  CHECK(res.best_epoch == 1);
  CHECK_FALSE(res.weights.empty());
  Must(WriteRunRecord(*r.repo, ManifestOf(res), res.weights));
  RunRecord run = Must(ReadRun(*r.repo, "cut"));
  CHECK(run.manifest.status == RunStatus::kInterrupted);
  CHECK(run.manifest.epochs.size() == 1);
  CHECK(Must(ParseSafetensors(Must(ReadRunWeights(*r.repo, run)), "w")).tensors.size() > 0);
}

TEST_CASE("run record: a run interrupted before its first epoch ended is not recorded") {
  TrainRepo r(200);
  TrainConfig c = SmallTrainConfig("cpu");
  c.batch_size = 16;
  c.name = "early";
  std::atomic<bool> stop{true};  // Ctrl-C before the first batch ends
  TrainHooks hooks;
  hooks.interrupted = &stop;
  TrainResult res = Must(Train(*r.repo, c, hooks));
  CHECK(res.status == RunStatus::kInterrupted);
  CHECK(res.epochs.empty());
  Status written = WriteRunRecord(*r.repo, ManifestOf(res), res.weights).status();
  CHECK(written.code() == Status::Code::kInvalidArgument);
  CHECK(written.message().find("completed no epoch") != std::string::npos);
  CHECK(Must(ListRuns(*r.repo)).empty());
  CHECK_FALSE(r.repo->history().ResolveCommit("refs/runs/early").ok());

  // Such records written by older versions are refused by reproduce, which would otherwise
  // train every configured epoch and report a mismatch.
  RunRecord old;
  old.name = "early";
  old.manifest = ManifestOf(res);
  Status replay = ReproConfig(old, {}).status();
  CHECK(replay.message().find("interrupted before its first epoch") != std::string::npos);
}

TEST_CASE("trainer: early stopping after epochs without a validation gain, SGD") {
  TrainRepo r(200);
  TrainConfig c = SmallTrainConfig("cpu");
  c.epochs = 5;
  c.early_stop = 1;
  c.optimizer = "sgd";
  c.lr = 1e-12;  // nothing moves, so accuracy cannot improve after the first epoch
  TrainResult res = Must(Train(*r.repo, c, {}));
  CHECK(res.status == RunStatus::kEarlyStopped);
  CHECK(res.epochs.size() == 2);
  CHECK(res.best_epoch == 1);
}

TEST_CASE("trainer: bad input is a one-line error and records no run") {
  TrainRepo r(60);
  r.Write("bad.csv", "path,label\nimages/train/00001.png,bag\nimages/train/nope.png,coat\n");
  r.Write("corrupt.safetensors", std::string("\x10\0\0\0\0\0\0\0{not json", 18));
  r.CommitAll("bad table");
  auto expect_error = [&](TrainConfig c, const std::string& text) {
    auto res = Train(*r.repo, c, {});
    REQUIRE_FALSE(res.ok());
    const std::string& msg = res.status().message();
    CHECK_MESSAGE(msg.find(text) != std::string::npos, msg);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(RunCount(*r.repo) == 0);
  };
  TrainConfig c = SmallTrainConfig("cpu");
  c.labels = "bad.csv";
  expect_error(c, "images/train/nope.png");

  c = SmallTrainConfig("cpu");
  c.model = "vgg";
  expect_error(c, "unknown model 'vgg' (valid: small-cnn, resnet18");

  c = SmallTrainConfig("cpu");
  c.base = r.Path("corrupt.safetensors");
  expect_error(c, "corrupt.safetensors");

  // Weights of another architecture: shapes do not match.
  torch::manual_seed(0);
  Model resnet = Must(MakeModel("resnet18", 10, 1));
  Must(WriteSafetensors(r.Path("resnet.safetensors"), StateDict(*resnet)));
  c.base = r.Path("resnet.safetensors");
  expect_error(c, "resnet.safetensors");

  c = SmallTrainConfig("cpu");
  c.base = "run:missing";
  expect_error(c, "unknown run 'missing'");

  c = SmallTrainConfig("cpu");
  c.epochs = 0;
  expect_error(c, "--epochs");

  c = SmallTrainConfig("cpu");
  c.device = "cuda";
  if (!torch::cuda::is_available()) expect_error(c, "--device cuda: no CUDA device");

  c = SmallTrainConfig("cpu");
  c.precision = "fp16";
  expect_error(c, "unknown precision 'fp16' (valid: auto, fp32, bf16)");
}

TEST_CASE("config: JSON round trip, unknown keys and the augment string form") {
  TrainConfig c;
  c.labels = "l.csv";
  c.augment = {"flip"};
  c.epochs = 3;
  c.lr = 0.5;
  TrainConfig back = Must(ConfigFromJson(ConfigToJson(c), "x"));
  CHECK(ConfigToJson(back) == ConfigToJson(c));
  auto bad = ConfigFromJson(nlohmann::json{{"epoch", 3}}, "cfg.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "cfg.json: unknown setting 'epoch'");
  auto wrong = ConfigFromJson(nlohmann::json{{"epochs", "three"}}, "cfg.json");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().message().find("'epochs'") != std::string::npos);
  TrainConfig s = Must(ConfigFromJson(nlohmann::json{{"augment", "flip,crop"}}, "x"));
  CHECK(s.augment == std::vector<std::string>{"flip", "crop"});
  c.freeze = "until:layer9";
  c.model = "resnet18";
  // The stage is checked against the model before anything is built.
  CHECK(ValidateConfig(c).message() ==
        "--freeze: freeze until:layer9: model resnet18 has no stage 'layer9' (stages: stem, "
        "layer1..layer4)");
  c.model = "convnext_tiny";
  c.freeze = "until:features.3";
  CHECK(ValidateConfig(c).ok());
  c.optimizer = "rmsprop";
  CHECK(ValidateConfig(c).message().find("unknown optimizer") != std::string::npos);
}

}  // namespace
}  // namespace vrepo::train
