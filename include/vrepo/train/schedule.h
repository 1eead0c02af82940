// The learning-rate schedule of a run: linear warmup, then constant, cosine or step decay,
// as a pure function of the config and the step, so that the trainer, the docs and the tests
// agree on one definition. Plain functions; thread-safe.
#pragma once

#include <cstdint>

#include "vrepo/train/config.h"

namespace vrepo::train {

// The epochs between two x0.1 steps of the "step" schedule: config.step_epochs, or
// ceil(epochs / 3) when it is 0.
int StepEpochs(const TrainConfig& config);

// The factor each parameter group's learning rate is multiplied by at 0-based training step
// `step` (of config.epochs * steps_per_epoch steps):
//   warmup (steps before warmup_epochs * steps_per_epoch): (step + 1) / warmup steps;
//   then constant: 1; cosine: (1 + cos(pi * t)) / 2, t = steps after warmup / steps after
//   warmup in all (1 at the first, towards 0 at the last); step: 0.1^(epoch / StepEpochs)
//   with the 0-based epoch of the step.
// The defaults (constant, no warmup) give 1 at every step: the runs recorded before
// schedules existed.
double LearningRateFactor(const TrainConfig& config, int64_t step, int64_t steps_per_epoch);

}  // namespace vrepo::train
