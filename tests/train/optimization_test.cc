// The optimization a fine-tune needs (schedules, label smoothing, gradient clipping, the
// backbone's learning rate) and watching forgetting (--retain), through real training runs
// of small-cnn on a few dozen Fashion-MNIST images.
#include "vrepo/train/trainer.h"

// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include "vrepo/train/model_store.h"
#include "vrepo/train/models.h"
#include "vrepo/train/plots.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/train/schedule.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
// clang-format on

#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "train/train_fixture.h"

namespace vrepo::train {
namespace {

using vrepo::testing::LineReporter;
using vrepo::testing::Must;
using vrepo::testing::TrainRepo;

size_t RunCount(Repository& repo) {
  return Must(repo.history().RefsWithPrefix("refs/runs/")).size();
}

TrainConfig Tiny() {
  TrainConfig c;
  c.labels = "labels.csv";
  c.val_split = 0.25;
  c.epochs = 1;
  c.batch_size = 16;
  c.seed = 3;
  c.device = "cpu";
  c.deterministic = true;
  return c;
}

// The model as the trainer initialises it (seeded, then built: nothing else draws between).
Model InitialModel(const TrainConfig& c) {
  torch::manual_seed(c.seed);
  return Must(MakeModel(c.model, 10, 1));
}

// name -> parameter of `weights` minus the initial model's (parameters only, no buffers).
std::map<std::string, torch::Tensor> Moves(const TrainConfig& c, const std::string& weights) {
  Model init = InitialModel(c);
  SafetensorsFile file = Must(ParseSafetensors(weights, "weights"));
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : init->named_parameters()) {
    out[p.key()] = file.tensors.at(p.key()).to(torch::kFloat64) - p.value().to(torch::kFloat64);
  }
  return out;
}

TEST_CASE("trainer: cosine schedule with warmup and --backbone-lr, recorded per epoch") {
  TrainRepo r(64);
  TrainConfig c = Tiny();
  c.epochs = 3;
  c.schedule = "cosine";
  c.warmup_epochs = 1;
  c.lr = 0.02;
  c.backbone_lr = 0.004;
  c.optimizer = "sgd";
  c.name = "cos";
  std::vector<std::string> lines;
  LineReporter reporter([&](const std::string& l) { lines.push_back(l); });
  TrainHooks hooks;
  hooks.reporter = &reporter;
  TrainResult res = Must(Train(*r.repo, c, hooks));
  const int64_t steps = (res.train_samples + 15) / 16;
  REQUIRE(res.epochs.size() == 3);
  for (int e = 0; e < 3; ++e) {
    const double f = LearningRateFactor(c, (e + 1) * steps - 1, steps);
    CHECK(res.epochs[e].lr == doctest::Approx(0.02 * f).epsilon(1e-12));
    CHECK(res.epochs[e].backbone_lr == doctest::Approx(0.004 * f).epsilon(1e-12));
  }
  CHECK(res.epochs[0].lr == doctest::Approx(0.02));  // warmup ends at the full rate
  CHECK(res.epochs[2].lr < res.epochs[1].lr);
  CHECK(res.config.backbone_lr == 0.004);
  bool shown = false;
  for (const auto& l : lines) shown |= l.find("lr 0.02 (backbone 0.004)") != std::string::npos;
  CHECK(shown);

  // run.json and metrics.jsonl keep them; the config names the schedule.
  Must(WriteRunRecord(*r.repo, ManifestOf(res), res.weights));
  RunRecord run = Must(ReadRun(*r.repo, "cos"));
  CHECK(run.manifest.config.schedule == "cosine");
  CHECK(run.manifest.config.warmup_epochs == 1);
  CHECK(run.manifest.epochs[2].lr == res.epochs[2].lr);
  CHECK(run.manifest.epochs[2].backbone_lr == res.epochs[2].backbone_lr);
  CHECK(Must(ReadRunFile(*r.repo, run, "metrics.jsonl")).find("\"lr\":") != std::string::npos);

  // The defaults: the configured rate at every step, for backbone and head alike.
  TrainConfig d = Tiny();
  TrainResult plain = Must(Train(*r.repo, d, {}));
  CHECK(plain.epochs[0].lr == d.lr);
  CHECK(plain.epochs[0].backbone_lr == d.lr);
  CHECK(plain.config.schedule == "constant");
}

TEST_CASE("trainer: --backbone-lr is the rate of the non-head parameters") {
  TrainRepo r(48);
  TrainConfig c = Tiny();
  c.optimizer = "sgd";
  c.momentum = 0;
  c.lr = 0.1;
  c.backbone_lr = 1e-12;
  TrainResult res = Must(Train(*r.repo, c, {}));
  for (const auto& [name, move] : Moves(c, res.weights)) {
    INFO(name);
    const double moved = move.abs().max().item<double>();
    if (name.rfind("fc.", 0) == 0) {
      CHECK(moved > 1e-4);
    } else {
      CHECK(moved < 1e-9);
    }
  }
}

TEST_CASE("trainer: --grad-clip bounds the gradient's global norm") {
  TrainRepo r(48);
  TrainConfig c = Tiny();
  c.optimizer = "sgd";
  c.momentum = 0;
  c.lr = 0.1;
  auto total_move = [&](const std::string& weights) {
    double sq = 0;
    for (const auto& [name, move] : Moves(c, weights)) sq += move.pow(2).sum().item<double>();
    return std::sqrt(sq);
  };
  const double unclipped = total_move(Must(Train(*r.repo, c, {})).weights);
  c.grad_clip = 1e-3;
  TrainResult res = Must(Train(*r.repo, c, {}));
  const int64_t steps = (res.train_samples + 15) / 16;
  // Plain SGD moves each step by lr * |gradient| <= lr * clip.
  const double clipped = total_move(res.weights);
  CHECK(clipped <= steps * c.lr * c.grad_clip * (1 + 1e-4));
  CHECK(clipped > 0);
  CHECK(unclipped > 100 * clipped);
}

TEST_CASE("trainer: --label-smoothing mixes the uniform target into the training loss") {
  // With a negligible rate the model stays as initialised, so the epoch's mean training loss
  // is torch's cross_entropy(label_smoothing=e) = (1 - e) * CE + e * (mean over classes of
  // -log p): linear in e. Validation loss stays plain cross-entropy.
  TrainRepo r(48);
  TrainConfig c = Tiny();
  c.optimizer = "sgd";
  c.momentum = 0;
  c.lr = 1e-12;
  std::vector<TrainResult> res;
  for (double e : {0.0, 0.1, 0.2}) {
    c.label_smoothing = e;
    res.push_back(Must(Train(*r.repo, c, {})));
  }
  const double l0 = res[0].epochs[0].train_loss, l1 = res[1].epochs[0].train_loss,
               l2 = res[2].epochs[0].train_loss;
  CHECK(l1 != l0);
  CHECK(l2 - l0 == doctest::Approx(2 * (l1 - l0)).epsilon(1e-4));
  CHECK(res[2].epochs[0].val_loss == doctest::Approx(res[0].epochs[0].val_loss).epsilon(1e-6));
  CHECK(res[1].config.label_smoothing == 0.1);
}

// Rows of labels.csv whose label is one of `keep`, as a CSV table.
std::string Subset(const std::string& csv, const std::set<std::string>& keep) {
  std::istringstream in(csv);
  std::string line, out;
  std::getline(in, line);
  out = line + "\n";
  while (std::getline(in, line)) {
    if (keep.count(line.substr(line.rfind(',') + 1))) out += line + "\n";
  }
  return out;
}

TEST_CASE("trainer: --retain records the old task through the current and the base head") {
  TrainRepo r(80, 40);
  TrainConfig a = Tiny();
  a.name = "old";
  a.val_labels = "test.csv";
  TrainResult old = Must(Train(*r.repo, a, {}));
  Must(WriteRunRecord(*r.repo, ManifestOf(old), old.weights));
  // A new task: three of the ten classes, a new head, the backbone frozen.
  const std::set<std::string> three = {old.classes[0], old.classes[1], old.classes[2]};
  r.Write("new.csv", Subset(r.Read("labels.csv"), three));
  r.CommitAll("new task");
  TrainConfig b = Tiny();
  b.labels = "new.csv";
  b.base = "run:old";
  b.freeze = "backbone";
  b.epochs = 2;
  b.retain = {"test.csv"};
  b.name = "new";
  TrainResult res = Must(Train(*r.repo, b, {}));
  REQUIRE(res.classes.size() == 3);
  REQUIRE(res.retain.size() == 2);
  const RetainRecord& current = res.retain[0];
  const RetainRecord& base = res.retain[1];
  CHECK(current.name == "test.csv");
  CHECK(current.head == "current");
  CHECK(current.samples + current.skipped == 40);
  CHECK(current.skipped > 0);
  CHECK(current.sample_digest.size() == 64);
  CHECK(base.name == "test.csv (base head)");
  CHECK(base.head == "base");
  CHECK(base.samples == 40);
  CHECK(base.skipped == 0);
  CHECK(base.commit == Must(r.repo->history().ResolveCommit("HEAD")));
  // The backbone did not move, so through the base's head the old task scores as the old run.
  EvalOptions eo;
  eo.labels = "test.csv";
  eo.device = "cpu";
  EvalResult before = Must(Evaluate(*r.repo, old.weights, eo));
  for (const EpochMetrics& m : res.epochs) {
    REQUIRE(m.retain.count("test.csv") == 1);
    REQUIRE(m.retain.count("test.csv (base head)") == 1);
    CHECK(m.retain.at("test.csv (base head)").accuracy == doctest::Approx(before.accuracy));
    CHECK(m.retain.at("test.csv (base head)").loss == doctest::Approx(before.loss).epsilon(1e-4));
    CHECK(m.retain.at("test.csv").accuracy >= 0);
  }

  // run.json keeps the sets and the per-epoch metrics; the accuracy plot draws them.
  Must(WriteRunRecord(*r.repo, ManifestOf(res), res.weights));
  RunRecord run = Must(ReadRun(*r.repo, "new"));
  REQUIRE(run.manifest.retain.size() == 2);
  CHECK(run.manifest.retain[1].name == "test.csv (base head)");
  CHECK(run.manifest.retain[0].sample_digest == current.sample_digest);
  CHECK(run.manifest.epochs[1].retain.at("test.csv").accuracy ==
        res.epochs[1].retain.at("test.csv").accuracy);
  CHECK(run.manifest.config.retain == std::vector<std::string>{"test.csv"});
  const std::string png = Must(ReadRunFile(*r.repo, run, "plots/accuracy.png"));
  RunManifest without = run.manifest;
  without.retain.clear();
  std::string plain_png;
  for (const auto& [path, bytes] : Must(RunPlots(without))) {
    if (path == "plots/accuracy.png") plain_png = bytes;
  }
  CHECK(png != plain_png);
  if (const char* dir = std::getenv("VREPO_TEST_KEEP_PLOTS")) {
    vrepo::testing::WriteFile(std::string(dir) + "/retain_accuracy.png", png);
  }
}

TEST_CASE("trainer: --retain through an imported model's head") {
  TrainRepo r(80, 40);
  TrainConfig a = Tiny();
  a.val_labels = "test.csv";
  TrainResult old = Must(Train(*r.repo, a, {}));
  // The old run's weights and classes, imported as model:old (what `vrepo export` writes).
  vrepo::testing::TempDir scratch;
  const std::string weights = scratch / "old.safetensors";
  const std::string classes = scratch / "classes.json";
  vrepo::testing::WriteFile(weights, old.weights);
  vrepo::testing::WriteFile(classes, nlohmann::json(old.classes).dump());
  ImportOptions io;
  io.arch = "small-cnn";
  io.name = "old";
  io.classes_file = classes;
  Must(ImportModel(*r.repo, weights, io));
  const std::set<std::string> three = {old.classes[0], old.classes[1], old.classes[2]};
  r.Write("new.csv", Subset(r.Read("labels.csv"), three));
  r.CommitAll("new task");
  TrainConfig b = Tiny();
  b.labels = "new.csv";
  b.base = "model:old";
  b.freeze = "backbone";
  b.retain = {"test.csv"};
  TrainResult res = Must(Train(*r.repo, b, {}));
  REQUIRE(res.retain.size() == 2);
  CHECK(res.retain[1].name == "test.csv (base head)");
  CHECK(res.retain[1].samples == 40);
  // The backbone is frozen: through the model's own head the old task scores as before.
  EvalOptions eo;
  eo.labels = "test.csv";
  eo.device = "cpu";
  EvalResult before = Must(Evaluate(*r.repo, old.weights, eo));
  CHECK(res.epochs[0].retain.at("test.csv (base head)").accuracy ==
        doctest::Approx(before.accuracy));
}

TEST_CASE("trainer: bad --retain fails before training, one line, nothing recorded") {
  TrainRepo r(40);
  r.Write("bad.csv", "path,label\nimages/train/00001.png,bag\nimages/train/nope.png,coat\n");
  r.Write("alien.csv", "path,label\nimages/train/00001.png,alien\n");
  r.CommitAll("tables");
  auto expect_error = [&](const std::string& retain, const std::string& text) {
    TrainConfig c = Tiny();
    c.name = "bad";
    c.retain = {retain};
    auto res = Train(*r.repo, c, {});
    REQUIRE_FALSE(res.ok());
    const std::string& msg = res.status().message();
    CHECK_MESSAGE(msg.find(text) != std::string::npos, msg);
    CHECK(msg.find("--retain") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(RunCount(*r.repo) == 0);
  };
  expect_error("missing.csv", "missing.csv");
  expect_error("bad.csv", "images/train/nope.png");
  expect_error("labels.csv@nowhere", "nowhere");
  expect_error("alien.csv", "alien.csv: none of its labels is a class of the run");
}

}  // namespace
}  // namespace vrepo::train
