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

}  // namespace vrepo::train
