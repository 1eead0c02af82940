// Fuzz target: ProbeImage and DecodeImage on arbitrary bytes. Beyond "no crash, no sanitizer
// report" it checks that a decoded image agrees with its probe and that the pixel buffer has
// exactly height * width * channels bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "vrepo/dataset/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string name = "fuzz.img";
  auto info = vrepo::ProbeImage(bytes, name);
  // The input's length picks the requested channels, so all three paths get exercised.
  static constexpr uint32_t kChannels[3] = {0, 1, 3};
  const uint32_t channels = kChannels[size % 3];
  // A smaller limit than the default keeps each run's memory well inside libFuzzer's 2 GB.
  vrepo::DecodeOptions options;
  options.channels = channels;
  options.max_pixels = uint64_t{1} << 22;
  auto image = vrepo::DecodeImage(bytes, name, options);
  if (!image.ok()) {
    if (image.status().message().rfind(name + ": ", 0) != 0) std::abort();
    return 0;
  }
  if (!info.ok() || info->width != image->width || info->height != image->height) std::abort();
  if (channels != 0 && image->channels != channels) std::abort();
  if (image->channels != 1 && image->channels != 3) std::abort();
  if (image->pixels.size() != uint64_t{image->width} * image->height * image->channels) {
    std::abort();
  }
  return 0;
}
