// IndexBatch: puts and deletes gathered for one atomic write to the index (IndexDb::Write,
// or PackWriter::Commit together with a pack's objects). It wraps a RocksDB write batch so
// that layers above store/ never see the engine. Not thread-safe: one thread fills a batch.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "vrepo/util/status.h"

namespace rocksdb {
class WriteBatch;
}

namespace vrepo {

class IndexBatch {
 public:
  IndexBatch();
  ~IndexBatch();
  IndexBatch(IndexBatch&&) noexcept;
  IndexBatch& operator=(IndexBatch&&) noexcept;

  // Sets `key` to `value` when the batch is written; a later Put or Delete of it wins.
  void Put(std::string_view key, std::string_view value);
  // Removes `key` when the batch is written (absent keys are no error).
  void Delete(std::string_view key);
  // Adds `other`'s updates after this batch's own, in their order.
  Status Append(const IndexBatch& other);
  // The number of updates in the batch.
  size_t Count() const;

 private:
  friend class IndexDb;  // writes rep_ through the engine
  std::unique_ptr<rocksdb::WriteBatch> rep_;
};

}  // namespace vrepo
