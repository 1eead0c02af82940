#include "thumbnails.h"

#include <algorithm>
#include <cmath>

#include "vrepo/dataset/image.h"

namespace vrepo::web {
namespace {

// A thumbnail needs no more than this; a bigger image is refused rather than decoded (PIL's
// limit would let one request hold 270 MB).
constexpr uint64_t kMaxThumbnailSourcePixels = 40'000'000;

// Shrinks by averaging the source pixels each output pixel covers (a box filter).
DecodedImage ShrinkToFit(const DecodedImage& in, uint32_t box) {
  double scale =
      std::min({1.0, static_cast<double>(box) / in.width, static_cast<double>(box) / in.height});
  DecodedImage out;
  out.width = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(in.width * scale)));
  out.height = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(in.height * scale)));
  out.channels = in.channels;
  if (out.width == in.width && out.height == in.height) return in;
  out.pixels.resize(size_t{out.width} * out.height * out.channels);
  const uint32_t c = in.channels;
  for (uint32_t oy = 0; oy < out.height; ++oy) {
    uint64_t y0 = uint64_t{oy} * in.height / out.height;
    uint64_t y1 = std::max(y0 + 1, uint64_t{oy + 1} * in.height / out.height);
    for (uint32_t ox = 0; ox < out.width; ++ox) {
      uint64_t x0 = uint64_t{ox} * in.width / out.width;
      uint64_t x1 = std::max(x0 + 1, uint64_t{ox + 1} * in.width / out.width);
      uint64_t sum[3] = {0, 0, 0};
      for (uint64_t y = y0; y < y1; ++y) {
        const uint8_t* row = in.pixels.data() + (y * in.width + x0) * c;
        for (uint64_t x = x0; x < x1; ++x, row += c) {
          for (uint32_t k = 0; k < c; ++k) sum[k] += row[k];
        }
      }
      const uint64_t n = (y1 - y0) * (x1 - x0);
      uint8_t* dst = out.pixels.data() + (size_t{oy} * out.width + ox) * c;
      for (uint32_t k = 0; k < c; ++k) dst[k] = static_cast<uint8_t>((sum[k] + n / 2) / n);
    }
  }
  return out;
}

}  // namespace

Result<std::string> MakeThumbnail(std::string_view bytes, const std::string& name) {
  if (SniffImageFormat(bytes) == ImageFormat::kUnknown) {
    return Status::InvalidArgument(name + ": not a PNG or JPEG image");
  }
  DecodeOptions options;
  options.max_pixels = kMaxThumbnailSourcePixels;
  auto decoded = DecodeImage(bytes, name, options);
  // Bytes that fail to decode are the request's problem (it named them), not the server's.
  if (!decoded.ok()) return Status::InvalidArgument(decoded.status().message());
  return EncodePng(ShrinkToFit(*decoded, kThumbnailSize));
}

Result<std::shared_ptr<const std::string>> ThumbnailCache::Get(const ObjectStore& store,
                                                               const ContentId& id) {
  // The id must be this repository's even when another one put it in the cache.
  if (!store.Contains(id)) return Status::NotFound("no object " + id.Hex() + " in the repository");
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(id);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  VREPO_ASSIGN_OR_RETURN(std::string bytes, store.Get(id));
  VREPO_ASSIGN_OR_RETURN(std::string png, MakeThumbnail(bytes, "object " + id.Hex()));
  auto shared = std::make_shared<const std::string>(std::move(png));
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(id)) return shared;  // another request made it meanwhile
  lru_.emplace_front(id, shared);
  index_[id] = lru_.begin();
  bytes_ += shared->size();
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
    bytes_ -= lru_.back().second->size();
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return shared;
}

}  // namespace vrepo::web
