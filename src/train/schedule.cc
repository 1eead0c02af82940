#include "vrepo/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace vrepo::train {

int StepEpochs(const TrainConfig& config) {
  if (config.step_epochs > 0) return config.step_epochs;
  return std::max(1, (config.epochs + 2) / 3);
}

double LearningRateFactor(const TrainConfig& config, int64_t step, int64_t steps_per_epoch) {
  steps_per_epoch = std::max<int64_t>(1, steps_per_epoch);
  const int64_t warmup = static_cast<int64_t>(std::max(0, config.warmup_epochs)) * steps_per_epoch;
  if (step < warmup) return static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (config.schedule == "cosine") {
    const int64_t total = static_cast<int64_t>(config.epochs) * steps_per_epoch;
    const int64_t rest = std::max<int64_t>(1, total - warmup);
    const double t = static_cast<double>(step - warmup) / static_cast<double>(rest);
    return 0.5 * (1 + std::cos(M_PI * std::min(t, 1.0)));
  }
  if (config.schedule == "step") {
    const int64_t decays = step / steps_per_epoch / StepEpochs(config);  // whole steps only
    return std::pow(0.1, static_cast<double>(decays));
  }
  return 1.0;
}

}  // namespace vrepo::train
