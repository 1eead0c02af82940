// The state behind ObjectStore and PackWriter, shared by the files that implement them
// (object_store.cc, pack_writer.cc, fsck.cc, gc.cc). Private to store/. ObjectStore::Impl is
// thread-safe as its reader is; a PackWriter::Impl guards its own state with `mu`.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pack_format.h"
#include "pack_reader.h"
#include "vrepo/store/index_batch.h"
#include "vrepo/store/index_db.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/file.h"

namespace vrepo {

struct ObjectStore::Impl {
  std::string vrepo_dir;
  std::string packs_dir;
  bool read_only = false;
  StoreOptions options;
  std::unique_ptr<IndexDb> index;
  std::unique_ptr<PackReader> reader;    // over `index`
  std::atomic<int> active_writers{0};    // gc refuses to run while one is open
  std::shared_ptr<ObjectSource> source;  // for objects the packs lack (a lazy clone)
};

struct PackWriter::Impl {
  // Creates the session's pack file, a new one that no other session writes.
  static Result<std::unique_ptr<Impl>> Create(ObjectStore::Impl* store);
  ~Impl();  // without a commit, removes the pack file

  // True when `id` is already stored or being stored; otherwise claims it for the caller.
  // `check_index` false trusts the caller that the id is not stored (gc copies stored ones).
  Result<bool> Claim(const ContentId& id, bool check_index);
  // Appends one record for a claimed id.
  Status AppendRecord(const ContentId& id, ObjectLocation::Codec codec, uint64_t raw_size,
                      std::string_view payload, uint32_t crc);
  // Stores `data` under its id `id`: zstd when that shrinks it, raw otherwise.
  Status StoreBlob(const ContentId& id, std::string_view data);
  // Stores the open file `fd` as chunks plus a chunk list; returns its id and size.
  Status PutLargeFile(int fd, const std::string& file_path, ContentId* id, uint64_t* size);
  // Records the chunk list of a claimed chunked object, written at commit.
  void AddChunked(const ContentId& id, uint64_t raw_size, const std::vector<ChunkRef>& chunks);
  // The index entries of every object of the session, in key order; the caller holds `mu`.
  IndexBatch LocationBatch() const;

  Status Usable() const;
  Status FlushLocked();
  Status AppendLocked(std::string_view header, std::string_view payload);

  ObjectStore::Impl* store = nullptr;
  uint32_t number = 0;
  std::string path;
  std::optional<AppendFile> file;

  mutable std::mutex mu;  // guards everything below
  std::string buffer;
  uint64_t end = 0;  // pack size including what is still buffered
  Status error;      // sticky: after a failed write nothing more is written
  bool committed = false;
  bool unlinked = false;
  uint64_t records = 0;
  std::unordered_set<ContentId, ContentIdHash> claimed;
  std::unordered_map<ContentId, ObjectLocation, ContentIdHash> written;
  std::unordered_map<ContentId, std::string, ContentIdHash> chunked;
};

}  // namespace vrepo
