// IndexDb: the RocksDB database under .vrepo/index. It holds the store's object locations
// and chunk lists, and keys of the layers above (the worktree's staging index), each under
// its own key prefix. Opened read-write by the one writer, or read-only by any number of
// readers, who never block. Thread-safe as RocksDB is.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/store/index_batch.h"
#include "vrepo/util/status.h"

namespace rocksdb {
class DB;
}

namespace vrepo {

// Keys start with a one-byte prefix so that the layers sharing the index never collide. The
// store reserves the prefixes below; a layer above defines its own prefix beside the code
// that owns those keys (the worktree's staging index does) and checks it with
// IsStoreReserved. Settings of every layer share kMeta through MetaKey.
namespace key_prefix {
inline constexpr char kObject = 'o';  // 'o' + raw content id -> object location
inline constexpr char kMeta = 'm';    // MetaKey(name) -> a small setting of any layer
// True for the prefixes the store owns, which no other layer may take as its own.
constexpr bool IsStoreReserved(char prefix) { return prefix == kObject || prefix == kMeta; }
}  // namespace key_prefix

// The key of a small setting; `name` is "<layer>.<setting>" ("store.format").
inline std::string MetaKey(std::string_view name) {
  std::string key(1, key_prefix::kMeta);
  key.append(name);
  return key;
}

class IndexDb {
 public:
  // Opens the index at `dir`; only `create` makes a new one. A missing or damaged index is
  // Corruption, never silently replaced by an empty one that would disown every packed object.
  static Result<std::unique_ptr<IndexDb>> Open(const std::string& dir, bool read_only,
                                               bool create = false);
  ~IndexDb();

  // NotFound when the key is absent.
  Result<std::string> Get(std::string_view key) const;
  // Looks up many keys, given in ascending order, in one pass over the index (far less CPU
  // than a Get each when the keys are many). found[i] is false when keys[i] is absent.
  Status MultiGet(const std::vector<std::string>& sorted_keys, std::vector<std::string>* values,
                  std::vector<bool>* found) const;
  // Applies `batch` atomically; with `sync` it is durable when this returns.
  Status Write(IndexBatch* batch, bool sync);
  // Calls fn(key, value) for every key starting with `prefix`, in key order, until fn
  // returns false.
  Status ScanPrefix(std::string_view prefix,
                    const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // RocksDB's estimate of how many keys the index holds (all prefixes together): an upper
  // bound to reserve for before a scan.
  uint64_t EstimateKeyCount() const;
  bool read_only() const { return read_only_; }

 private:
  friend struct IndexDbTestPeer;  // tests/store force flushes and compactions through it
  IndexDb(std::unique_ptr<rocksdb::DB> db, std::string dir, bool read_only);
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  bool read_only_;
  bool wrote_ = false;
};

}  // namespace vrepo
