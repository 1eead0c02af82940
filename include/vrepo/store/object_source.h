// ObjectSource: where a store gets the objects it lacks, for a lazy clone whose contents come
// from its remote on demand (docs/remote.md, "Lazy clones"). The store only calls it; the
// implementation lives above (remote/) and is installed by whoever opened the repository.
// Implementations are thread-safe: a store's readers call Fetch from many threads at once.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "vrepo/store/content_id.h"
#include "vrepo/util/status.h"

namespace vrepo {

class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // Gets the objects `ids` and, when `fn` is set, calls fn(i, bytes) for each, with bytes
  // verified against ids[i] and valid only during the call; calls may run concurrently. The
  // objects are also stored in the repository, so that later opens find them there. NotFound
  // or IOError naming the first object that could not be had.
  virtual Status Fetch(const std::vector<ContentId>& ids,
                       const std::function<void(size_t, std::string_view)>& fn) = 0;
};

}  // namespace vrepo
