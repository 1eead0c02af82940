// The image transforms of a Preprocessing, as tensors: the eval transform (resize the shorter
// side, centre crop) and the train transform (random-resized-crop and flip drawn from a
// per-sample seeded stream), then scaling and per-channel normalization. The loader, eval,
// predict and export's checks all prepare images here. Pure functions; thread-safe.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "vrepo/dataset/image.h"
#include "vrepo/train/preprocess.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

// [channels, crop, crop] float32, contiguous: the image converted to p.channels (gray
// repeated, colour to gray as torchvision's Grayscale does), the shorter side resized to
// p.resize (bilinear, antialiased when shrinking, rounded to uint8 as torchvision does on
// uint8 tensors), the centre crop taken, then (x / 255 - mean) / std. `name` is for errors.
Result<torch::Tensor> EvalTransform(const DecodedImage& image, const Preprocessing& p,
                                    const std::string& name);

// The random part of the train transform (a run's --augment).
struct TrainAugment {
  // RandomResizedCrop(p.crop) in place of the eval transform's resize and centre crop:
  // torchvision's algorithm (area 0.08..1 of the image, aspect 3/4..4/3, 10 attempts, then
  // the centre crop clamped to that aspect), the crop resized as the eval transform resizes.
  bool crop = false;
  bool flip = false;  // horizontal flip with p = 0.5
};

// As EvalTransform, with the augmentation drawn from a std::mt19937_64 seeded with
// `stream_seed` (the loader's per-sample seed of (seed, epoch, index)): the same seed gives
// the same tensor on any thread and machine. Without crop and flip it equals EvalTransform.
Result<torch::Tensor> TrainTransform(const DecodedImage& image, const Preprocessing& p,
                                     const TrainAugment& augment, uint64_t stream_seed,
                                     const std::string& name);

}  // namespace vrepo::train
