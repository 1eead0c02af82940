// Thumbnails: an image from the object store shrunk to fit 128x128 (aspect kept, never
// enlarged) and encoded as PNG, cached by content id in a bounded LRU. Thread-safe.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "vrepo/store/content_id.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/status.h"

namespace vrepo::web {

inline constexpr uint32_t kThumbnailSize = 128;

// The PNG thumbnail of the image `bytes` (PNG or JPEG). InvalidArgument "NAME: why" when they
// are no image this can decode.
Result<std::string> MakeThumbnail(std::string_view bytes, const std::string& name);

class ThumbnailCache {
 public:
  explicit ThumbnailCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  // The thumbnail of object `id` of `store`. NotFound when the store lacks it (whatever the
  // cache holds), InvalidArgument when it is no image.
  Result<std::shared_ptr<const std::string>> Get(const ObjectStore& store, const ContentId& id);

 private:
  using Entry = std::pair<ContentId, std::shared_ptr<const std::string>>;
  const size_t max_bytes_;
  std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<ContentId, std::list<Entry>::iterator, ContentIdHash> index_;
  size_t bytes_ = 0;
};

}  // namespace vrepo::web
