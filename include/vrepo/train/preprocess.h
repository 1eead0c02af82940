// Preprocessing: how an image becomes a model's input tensor. It belongs to the model (each
// architecture has torchvision's standard transforms as its defaults; an imported model and a
// run record carry their resolved one), so train, eval, predict, reproduce and export all
// prepare an image the same way, and no size is ever taken from a sample. Plain values; safe
// to copy between threads.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo::train {

struct Preprocessing {
  // Eval: the shorter side is resized to `resize` (aspect kept), then the centre `crop` x
  // `crop` is taken. Train: random-resized-crop to `crop` x `crop` (torchvision's scale
  // 0.08..1, ratio 3/4..4/3) when the run augments with "crop", else the eval transform.
  int resize = 256;
  int crop = 224;
  // Per channel, applied to pixel / 255: (x - mean) / std. As many values as `channels`.
  std::vector<double> mean = {0.485, 0.456, 0.406};
  std::vector<double> std = {0.229, 0.224, 0.225};
  // What the model takes: 1 (gray; colour images are converted) or 3 (RGB; gray is repeated,
  // RGBA and CMYK converted).
  int channels = 3;
  // Only "bilinear" (align_corners=False, antialiased when shrinking, as torchvision does).
  std::string interpolation = "bilinear";
};

bool operator==(const Preprocessing& a, const Preprocessing& b);

// {"resize", "crop", "mean", "std", "channels", "interpolation"}: the keys run.json,
// model.json and an export's preprocessing.json use.
nlohmann::json PreprocessingToJson(const Preprocessing& p);
// Reads and checks (sides 1..4096, channels 1 or 3, mean/std of `channels` finite values with
// std > 0, a known interpolation). Corruption "<where>: preprocessing.<key> ..." otherwise.
Result<Preprocessing> PreprocessingFromJson(const nlohmann::json& json, const std::string& where);

// The architecture's standard transforms: ImageNet mean/std, resize 256, crop 224, 3 channels
// for torchvision's architectures; small-cnn takes 28 x 28 with mean = std = 0.5 and 1
// channel. InvalidArgument for an unknown architecture.
Result<Preprocessing> DefaultPreprocessing(const std::string& arch);

// `--image-size N`: the crop becomes N and the resize scales with it,
// round(N * resize / crop) (256/224 for torchvision's defaults). InvalidArgument unless
// 1 <= N <= 4096.
Result<Preprocessing> WithImageSize(Preprocessing p, int image_size);

}  // namespace vrepo::train
