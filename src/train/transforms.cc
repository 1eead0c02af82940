#include "vrepo/train/transforms.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

#include <cmath>
#include <exception>
#include <random>
#include <utility>
#include <vector>

#include "seeded_random.h"

namespace vrepo::train {
namespace {

namespace F = torch::nn::functional;

// A resized image may not hold more pixels than a decoded one may (a 1 x 9000 strip resized
// to a shorter side of 4096 would be 36 billion).
constexpr uint64_t kMaxResizedPixels = kDefaultMaxImagePixels;

// Python's round(): halves go to the even neighbour. torchvision computes its centre-crop
// offsets and random-resized-crop sides with it.
int64_t RoundHalfEven(double x) {
  const double f = std::floor(x);
  const double d = x - f;
  if (d > 0.5) return static_cast<int64_t>(f) + 1;
  if (d < 0.5) return static_cast<int64_t>(f);
  return std::fmod(f, 2.0) == 0 ? static_cast<int64_t>(f) : static_cast<int64_t>(f) + 1;
}

// ITU-R 601 luma in 16-bit fixed point with rounding: PIL's convert("L") (torchvision's
// Grayscale on a PIL image), and the decoder's conversion in image.cc.
inline uint8_t Luma(uint32_t r, uint32_t g, uint32_t b) {
  return static_cast<uint8_t>((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);
}

Status CheckInputs(const DecodedImage& image, const Preprocessing& p, const std::string& name) {
  const size_t channels = static_cast<size_t>(p.channels);
  if (p.channels != 1 && p.channels != 3) {
    return Status::InvalidArgument(name + ": preprocessing channels " + std::to_string(p.channels) +
                                   " is not 1 or 3");
  }
  if (p.mean.size() != channels || p.std.size() != channels) {
    return Status::InvalidArgument(name + ": preprocessing mean and std need " +
                                   std::to_string(p.channels) + " values each");
  }
  if (p.resize < 1 || p.crop < 1) {
    return Status::InvalidArgument(name + ": preprocessing resize and crop must be positive");
  }
  if (p.interpolation != "bilinear") {
    return Status::InvalidArgument(name + ": unknown interpolation '" + p.interpolation + "'");
  }
  const uint64_t expected = uint64_t{image.width} * image.height * image.channels;
  if ((image.channels != 1 && image.channels != 3) || image.width == 0 || image.height == 0 ||
      image.pixels.size() != expected) {
    return Status::InvalidArgument(name + ": decoded image has an inconsistent size");
  }
  return Status::OK();
}

// [channels, H, W] uint8: gray repeated to 3 channels (PIL's convert("RGB")), colour to gray
// by luma (convert("L")).
torch::Tensor ToChannels(const DecodedImage& image, int channels) {
  const int64_t h = image.height, w = image.width, c = image.channels;
  // from_blob only views the pixels; every path below copies before returning.
  torch::Tensor hwc =
      torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {h, w, c}, torch::kUInt8);
  if (c == channels) return hwc.permute({2, 0, 1}).contiguous();
  if (channels == 3) return hwc.permute({2, 0, 1}).expand({3, h, w}).contiguous();
  torch::Tensor gray = torch::empty({1, h, w}, torch::kUInt8);
  uint8_t* out = gray.data_ptr<uint8_t>();
  const uint8_t* in = image.pixels.data();
  for (int64_t i = 0; i < h * w; ++i) out[i] = Luma(in[3 * i], in[3 * i + 1], in[3 * i + 2]);
  return gray;
}

// torchvision's Resize on a uint8 tensor: bilinear, align_corners=False, antialias=True,
// computed in float32, rounded back to uint8 (clamped too; the filter's weights are positive
// and sum to one, so that changes nothing but float noise). No-op at the same size, as there.
torch::Tensor Resize(const torch::Tensor& u8, int64_t oh, int64_t ow) {
  if (u8.size(1) == oh && u8.size(2) == ow) return u8;
  torch::Tensor x = u8.to(torch::kFloat32).unsqueeze(0);
  x = F::interpolate(x, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{oh, ow})
                            .mode(torch::kBilinear)
                            .align_corners(false)
                            .antialias(true));
  return x.squeeze(0).round().clamp(0, 255).to(torch::kUInt8);
}

// Resize(resize) of the shorter side: the longer becomes int(resize * long / short), as
// torchvision computes it.
Result<torch::Tensor> ResizeShorterSide(const torch::Tensor& u8, int resize,
                                        const std::string& name) {
  const int64_t h = u8.size(1), w = u8.size(2);
  const int64_t shorter = std::min(h, w), longer = std::max(h, w);
  const auto new_long =
      static_cast<int64_t>(static_cast<double>(int64_t{resize} * longer) / shorter);
  const int64_t oh = w <= h ? new_long : resize;
  const int64_t ow = w <= h ? resize : new_long;
  if (static_cast<uint64_t>(oh) * static_cast<uint64_t>(ow) > kMaxResizedPixels) {
    return Status::InvalidArgument(name + ": " + std::to_string(w) + "x" + std::to_string(h) +
                                   " resized to a shorter side of " + std::to_string(resize) +
                                   " would exceed " + std::to_string(kMaxResizedPixels) +
                                   " pixels");
  }
  return Resize(u8, oh, ow);
}

// torchvision's CenterCrop: zero padding (left and top get the smaller half) when the image
// is smaller than the crop, offsets round((side - crop) / 2) with Python's rounding.
torch::Tensor CenterCrop(torch::Tensor x, int64_t crop) {
  int64_t h = x.size(1), w = x.size(2);
  if (crop > w || crop > h) {
    const int64_t left = crop > w ? (crop - w) / 2 : 0, right = crop > w ? (crop - w + 1) / 2 : 0;
    const int64_t top = crop > h ? (crop - h) / 2 : 0, bottom = crop > h ? (crop - h + 1) / 2 : 0;
    x = torch::constant_pad_nd(x, {left, right, top, bottom}, 0);
    h = x.size(1), w = x.size(2);
    if (h == crop && w == crop) return x;
  }
  const int64_t top = RoundHalfEven(static_cast<double>(h - crop) / 2.0);
  const int64_t left = RoundHalfEven(static_cast<double>(w - crop) / 2.0);
  return x.narrow(1, top, crop).narrow(2, left, crop);
}

// convert_image_dtype(float) then Normalize(mean, std), in float32 as torchvision does.
torch::Tensor Normalize(const torch::Tensor& u8, const Preprocessing& p) {
  torch::Tensor x = u8.to(torch::kFloat32).div(255.0);
  auto per_channel = [](const std::vector<double>& v) {
    return torch::tensor(v, torch::dtype(torch::kFloat64)).to(torch::kFloat32).view({-1, 1, 1});
  };
  x.sub_(per_channel(p.mean)).div_(per_channel(p.std));
  return x.contiguous();
}

struct Box {
  int64_t top, left, height, width;
};

// torchvision's RandomResizedCrop.get_params with scale (0.08, 1) and ratio (3/4, 4/3).
Box RandomResizedCropBox(int64_t height, int64_t width, std::mt19937_64& rng) {
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * Uniform(rng, 0.08, 1.0);
    const double aspect = std::exp(Uniform(rng, log_lo, log_hi));
    const int64_t w = RoundHalfEven(std::sqrt(target_area * aspect));
    const int64_t h = RoundHalfEven(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const auto top = static_cast<int64_t>(Below(rng, static_cast<uint64_t>(height - h + 1)));
      const auto left = static_cast<int64_t>(Below(rng, static_cast<uint64_t>(width - w + 1)));
      return {top, left, h, w};
    }
  }
  // The centre, clamped to the aspect range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < 3.0 / 4.0) {
    h = RoundHalfEven(static_cast<double>(w) / (3.0 / 4.0));
  } else if (in_ratio > 4.0 / 3.0) {
    w = RoundHalfEven(static_cast<double>(h) * (4.0 / 3.0));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Result<torch::Tensor> EvalGeometry(const torch::Tensor& u8, const Preprocessing& p,
                                   const std::string& name) {
  VREPO_ASSIGN_OR_RETURN(torch::Tensor resized, ResizeShorterSide(u8, p.resize, name));
  return CenterCrop(std::move(resized), p.crop);
}

Result<torch::Tensor> TrainTransformImpl(const DecodedImage& image, const Preprocessing& p,
                                         const TrainAugment& augment, uint64_t stream_seed,
                                         const std::string& name) {
  std::mt19937_64 rng(stream_seed);
  torch::Tensor x = ToChannels(image, p.channels);
  if (augment.crop) {
    const Box b = RandomResizedCropBox(x.size(1), x.size(2), rng);
    x = Resize(x.narrow(1, b.top, b.height).narrow(2, b.left, b.width), p.crop, p.crop);
  } else {
    VREPO_ASSIGN_OR_RETURN(x, EvalGeometry(x, p, name));
  }
  if (augment.flip && (rng() & 1)) x = x.flip({2});
  return Normalize(x, p);
}

Status TorchError(const std::string& name, const std::exception& e) {
  std::string what = e.what();
  return Status::InvalidArgument(name +
                                 ": preparing the image: " + what.substr(0, what.find('\n')));
}

}  // namespace

Result<torch::Tensor> EvalTransform(const DecodedImage& image, const Preprocessing& p,
                                    const std::string& name) {
  VREPO_RETURN_IF_ERROR(CheckInputs(image, p, name));
  try {
    VREPO_ASSIGN_OR_RETURN(torch::Tensor x, EvalGeometry(ToChannels(image, p.channels), p, name));
    return Normalize(x, p);
  } catch (const std::exception& e) {
    return TorchError(name, e);
  }
}

Result<torch::Tensor> TrainTransform(const DecodedImage& image, const Preprocessing& p,
                                     const TrainAugment& augment, uint64_t stream_seed,
                                     const std::string& name) {
  VREPO_RETURN_IF_ERROR(CheckInputs(image, p, name));
  try {
    return TrainTransformImpl(image, p, augment, stream_seed, name);
  } catch (const std::exception& e) {
    return TorchError(name, e);
  }
}

}  // namespace vrepo::train
