// Image headers, decoding and PNG encoding for dataset checks, the training loader and the web
// view's thumbnails: PNG through libspng, JPEG through libjpeg-turbo. Inputs are untrusted bytes;
// every failure is an error naming the image and the problem, never a crash. Thread-safe (each call
// owns its decoder).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo {

enum class ImageFormat { kUnknown, kPng, kJpeg };
const char* ImageFormatName(ImageFormat format);  // "png", "jpeg", "unknown"

// The format the leading magic bytes announce (kUnknown when neither).
ImageFormat SniffImageFormat(std::string_view bytes);

struct ImageInfo {
  ImageFormat format = ImageFormat::kUnknown;
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 0;  // as stored: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palette PNG: 3)
};

// Reads only the header. Corruption "NAME: ..." for a bad or unsupported header.
Result<ImageInfo> ProbeImage(std::string_view bytes, const std::string& name);

struct DecodedImage {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 0;        // 1 or 3
  std::vector<uint8_t> pixels;  // height * width * channels, row-major, interleaved (HWC)
};

// PIL's Image.MAX_IMAGE_PIXELS (about 9459 x 9459): large enough for any photo a classifier
// trains on, small enough that one decoded RGB image stays under 270 MB.
constexpr uint64_t kDefaultMaxImagePixels = 89'478'485;

struct DecodeOptions {
  // 0 keeps gray as 1 channel and makes everything else RGB (alpha dropped); 1 or 3 converts
  // to that.
  uint32_t channels = 0;
  // Images whose header claims more pixels are refused before any pixel memory is allocated.
  uint64_t max_pixels = kDefaultMaxImagePixels;
};

// Decodes the whole image, so a truncated or corrupt body is found. Before allocating, the
// header's claimed size is checked against `options.max_pixels` and against what the file's
// bytes could possibly hold (see image.cc); either refusal is Corruption "NAME: FORMAT: ...".
Result<DecodedImage> DecodeImage(std::string_view bytes, const std::string& name,
                                 const DecodeOptions& options = {});

// `image` (1 or 3 channels) as an 8-bit PNG (gray or RGB). InvalidArgument for another
// channel count or a pixel buffer of the wrong size.
Result<std::string> EncodePng(const DecodedImage& image);

}  // namespace vrepo
