// The learning-rate schedule as a pure function, and the validation of the fine-tuning
// optimization settings.
#include "vrepo/train/schedule.h"

#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "vrepo/train/config.h"

namespace vrepo::train {
namespace {

TrainConfig Schedule(const std::string& name, int epochs, int warmup, int step_epochs = 0) {
  TrainConfig c;
  c.labels = "labels.csv";
  c.device = "cpu";
  c.schedule = name;
  c.epochs = epochs;
  c.warmup_epochs = warmup;
  c.step_epochs = step_epochs;
  return c;
}

TEST_CASE("schedule: the defaults keep every step at the configured rate") {
  TrainConfig c;
  for (int64_t step = 0; step < 100; ++step) CHECK(LearningRateFactor(c, step, 7) == 1.0);
}

TEST_CASE("schedule: cosine with linear warmup, per step") {
  // 5 epochs of 4 steps, 1 warmup epoch: steps 0..3 warm up to 1, 4..19 decay to 0.
  TrainConfig c = Schedule("cosine", 5, 1);
  CHECK(LearningRateFactor(c, 0, 4) == doctest::Approx(0.25));
  CHECK(LearningRateFactor(c, 1, 4) == doctest::Approx(0.5));
  CHECK(LearningRateFactor(c, 3, 4) == doctest::Approx(1.0));
  CHECK(LearningRateFactor(c, 4, 4) == doctest::Approx(1.0));
  // Half-way through the 16 decaying steps: cos(pi/2) = 0, so 0.5.
  CHECK(LearningRateFactor(c, 12, 4) == doctest::Approx(0.5));
  CHECK(LearningRateFactor(c, 19, 4) == doctest::Approx(0.5 * (1 + std::cos(M_PI * 15 / 16))));
  double previous = 2;
  for (int64_t step = 4; step < 20; ++step) {
    const double f = LearningRateFactor(c, step, 4);
    CHECK(f < previous);
    CHECK(f > 0);
    previous = f;
  }
  // Without warmup the first step runs at the full rate.
  CHECK(LearningRateFactor(Schedule("cosine", 2, 0), 0, 10) == 1.0);
  // Warmup on a constant schedule: a ramp, then flat.
  TrainConfig w = Schedule("constant", 3, 2);
  CHECK(LearningRateFactor(w, 0, 2) == doctest::Approx(0.25));
  CHECK(LearningRateFactor(w, 3, 2) == doctest::Approx(1.0));
  CHECK(LearningRateFactor(w, 5, 2) == 1.0);
}

TEST_CASE("schedule: step divides by 10 every --step-epochs, by default epochs/3 rounded up") {
  TrainConfig c = Schedule("step", 7, 0);
  CHECK(StepEpochs(c) == 3);
  // Epochs 0-2 at 1, 3-5 at 0.1, 6 at 0.01 (3 steps per epoch).
  CHECK(LearningRateFactor(c, 0, 3) == 1.0);
  CHECK(LearningRateFactor(c, 8, 3) == 1.0);
  CHECK(LearningRateFactor(c, 9, 3) == doctest::Approx(0.1));
  CHECK(LearningRateFactor(c, 17, 3) == doctest::Approx(0.1));
  CHECK(LearningRateFactor(c, 18, 3) == doctest::Approx(0.01));
  TrainConfig k = Schedule("step", 4, 1, 1);
  CHECK(StepEpochs(k) == 1);
  CHECK(LearningRateFactor(k, 0, 2) == doctest::Approx(0.5));  // warmup first
  CHECK(LearningRateFactor(k, 2, 2) == doctest::Approx(0.1));
  CHECK(LearningRateFactor(k, 7, 2) == doctest::Approx(0.001));
  CHECK(StepEpochs(Schedule("step", 1, 0)) == 1);
  CHECK(StepEpochs(Schedule("step", 9, 0)) == 3);
}

TEST_CASE("config: optimization settings are checked and round-trip through JSON") {
  auto invalid = [](TrainConfig c, const std::string& text) {
    Status st = ValidateConfig(c);
    REQUIRE_FALSE(st.ok());
    CHECK_MESSAGE(st.message().find(text) != std::string::npos, st.message());
  };
  TrainConfig c = Schedule("linear", 3, 0);
  invalid(c, "unknown schedule 'linear' (valid: constant, cosine, step)");
  invalid(Schedule("cosine", 3, 3), "--warmup-epochs");
  invalid(Schedule("cosine", 3, -1), "--warmup-epochs");
  invalid(Schedule("step", 3, 0, -2), "--step-epochs");
  c = Schedule("cosine", 3, 1);
  CHECK(ValidateConfig(c).ok());
  c.label_smoothing = 1.5;
  invalid(c, "--label-smoothing must be between 0 and 1");
  c.label_smoothing = 0.1;
  c.grad_clip = -1;
  invalid(c, "--grad-clip");
  c.grad_clip = 1;
  c.backbone_lr = -0.1;
  invalid(c, "--backbone-lr");
  c.backbone_lr = 1e-4;
  c.retain = {"@HEAD"};
  invalid(c, "--retain '@HEAD': needs a label table");
  c.retain = {"old.csv", "older.csv@v1"};
  REQUIRE(ValidateConfig(c).ok());

  TrainConfig back = ConfigFromJson(ConfigToJson(c), "test").value();
  CHECK(back.schedule == "cosine");
  CHECK(back.warmup_epochs == 1);
  CHECK(back.label_smoothing == 0.1);
  CHECK(back.grad_clip == 1);
  CHECK(back.backbone_lr == 1e-4);
  CHECK(back.retain == c.retain);
  // A config recorded before these settings existed reads as the old behaviour.
  TrainConfig old = ConfigFromJson(nlohmann::json{{"labels", "labels.csv"}}, "old").value();
  CHECK(old.schedule == "constant");
  CHECK(old.warmup_epochs == 0);
  CHECK(old.label_smoothing == 0);
  CHECK(old.grad_clip == 0);
  CHECK(old.backbone_lr == 0);
  CHECK(old.retain.empty());
  CHECK_FALSE(ConfigFromJson(nlohmann::json{{"retain", "old.csv"}}, "x").ok());
}

}  // namespace
}  // namespace vrepo::train
