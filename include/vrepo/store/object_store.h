// ObjectStore: content-addressed objects in append-only pack files, located through IndexDb.
// Writes go through a PackWriter session: objects are appended to one new pack file and
// become visible together when the session commits (pack synced first, then one RocksDB
// batch). Reads are thread-safe; a PackWriter's Put is thread-safe; Commit is not.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/store/content_id.h"
#include "vrepo/store/index_batch.h"
#include "vrepo/store/index_db.h"
#include "vrepo/store/object_source.h"
#include "vrepo/util/status.h"

namespace vrepo {

class ThreadPool;

struct StoreOptions {
  // Files at least this large are cut by content-defined chunking (see chunker.h).
  uint64_t chunk_threshold = 4 << 20;
  // zstd level for each object; objects are stored raw when zstd does not shrink them.
  int zstd_level = 1;
};

// Where an object's bytes are, as recorded in the index.
struct ObjectLocation {
  enum class Codec : uint8_t { kRaw = 0, kZstd = 1, kChunked = 2 };
  uint32_t pack = 0;         // pack number: objects/packs/pack-<number>.vpk
  uint64_t offset = 0;       // offset of the record in the pack
  uint64_t stored_size = 0;  // bytes of payload in the pack
  uint64_t raw_size = 0;     // bytes of the object itself
  Codec codec = Codec::kRaw;
};

// One chunk of a chunked object: its id and size.
struct ChunkRef {
  ContentId id;
  uint64_t size = 0;
};

// An object as one pack record holds it, for copying it between stores without
// recompressing (docs/remote.md, "Object batches").
struct StoredRecord {
  ContentId id;
  ObjectLocation::Codec codec = ObjectLocation::Codec::kRaw;
  uint64_t raw_size = 0;
  std::string stored;            // the payload: raw or zstd bytes; empty for a chunked object
  std::vector<ChunkRef> chunks;  // for a chunked object, its chunks in order
};

// One problem found by Fsck.
struct FsckProblem {
  std::string object;   // content id hex, or "" when the problem is not one object's
  std::string pack;     // pack file path, when known
  std::string message;  // what is wrong
};

// What ObjectStore::RebuildIndex found.
struct IndexRebuildReport {
  uint64_t packs = 0;                 // pack files read
  uint64_t objects = 0;               // objects indexed
  std::vector<std::string> problems;  // damage that left bytes unindexed, naming file and offset
  std::string old_index;              // where the replaced index was moved ("" if there was none)
};

class ObjectStore;

// True when `data` starts like an already-compressed format (PNG, JPEG, gzip, zstd, zip):
// such objects are stored raw without trying zstd.
bool IsCompressedFormat(std::string_view data);

// A write session: one new pack file.
class PackWriter {
 public:
  ~PackWriter();  // without Commit, nothing written becomes visible
  // Stores `data` (deduplicated: already stored ids are skipped). Returns its id.
  Result<ContentId> Put(std::string_view data);
  // Stores the file at `path`, chunking it when large, without holding it all in memory.
  // Returns its id and size.
  Result<std::pair<ContentId, uint64_t>> PutFile(const std::string& path);
  // Stores an object received from elsewhere as its record: `stored` is its payload in
  // `codec` (kRaw or kZstd), written as is. The caller has verified that it decodes to
  // `id` (object_batch.h does). A kChunked object takes `chunks`, each of which must be
  // stored already or put earlier in this session; InvalidArgument naming the chunk if not.
  Status PutVerified(const ContentId& id, ObjectLocation::Codec codec, uint64_t raw_size,
                     std::string_view stored, const std::vector<ChunkRef>& chunks);
  // True when `id` is stored or was put in this session.
  bool Has(const ContentId& id);
  // Makes every object of this session durable and visible, together with the keys in
  // `extra` (may be null), in one atomic index write.
  Status Commit(IndexBatch* extra);

 private:
  friend class ObjectStore;
  struct Impl;
  explicit PackWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class ObjectStore {
 public:
  // Creates the store's folders and index under `vrepo_dir` (the .vrepo folder).
  static Status Create(const std::string& vrepo_dir);
  // Makes a new index for the store under `vrepo_dir` from its pack files, for when the
  // index is missing or damaged: every record whose checksums hold is indexed, and the old
  // index is moved aside, not deleted. Chunk lists and the staging index live only in the
  // index, so chunked objects are lost (fsck then names them missing) and the caller rebuilds
  // the staging index. The caller holds the writer lock; the store must not be open.
  static Result<IndexRebuildReport> RebuildIndex(const std::string& vrepo_dir);
  static Result<std::unique_ptr<ObjectStore>> Open(const std::string& vrepo_dir, bool read_only,
                                                   StoreOptions options = {});
  ~ObjectStore();

  IndexDb& index();
  const StoreOptions& options() const;

  // Starts a write session. Fails on a read-only store.
  Result<std::unique_ptr<PackWriter>> NewWriter();

  // Where Get, GetMany and WriteTo get objects this store lacks (a lazy clone's remote); null,
  // the default, makes them NotFound. Set before the store is shared between threads.
  void SetSource(std::shared_ptr<ObjectSource> source);
  ObjectSource* source() const;
  // Gets from the source, and stores, those of `ids` that this store lacks (nothing without a
  // source). Returns how many that was.
  Result<uint64_t> Prefetch(const std::vector<ContentId>& ids);

  bool Contains(const ContentId& id) const;
  Result<ObjectLocation> Locate(const ContentId& id) const;
  // Returns the object's bytes, verified against its id.
  Result<std::string> Get(const ContentId& id) const;
  // Reads the objects `ids` on the threads of `pool` and calls fn(i, bytes) for each, with
  // bytes verified against ids[i] and valid only during the call; calls run concurrently.
  // Locations are looked up in key order and objects read in pack order, which for a million
  // small objects costs far less CPU than a Get each. Returns the first failed read.
  Status GetMany(const std::vector<ContentId>& ids, ThreadPool& pool,
                 const std::function<void(size_t, std::string_view)>& fn) const;
  // The object's record as stored (payload checked against its checksum, not decompressed);
  // for a chunked object, its chunk list. NotFound when absent.
  Result<StoredRecord> ReadRecord(const ContentId& id) const;
  // Writes the object's bytes to the open descriptor `fd` (used by checkout), verified.
  Status WriteTo(const ContentId& id, int fd, const std::string& fd_path) const;

  // Reads and verifies every object; each problem names the object and the pack file.
  Result<std::vector<FsckProblem>> Fsck(const std::function<void(uint64_t)>& progress = {}) const;
  // Rewrites the packs keeping only objects in `live` (chunks of live chunked objects kept
  // too), then deletes the old packs. Returns the number of objects dropped.
  Result<uint64_t> Gc(const std::function<bool(const ContentId&)>& live);
  // Total bytes of all pack files.
  Result<uint64_t> PackBytes() const;
  // How many pack files there are.
  Result<uint64_t> PackCount() const;

 private:
  struct Impl;
  explicit ObjectStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class PackWriter;
};

}  // namespace vrepo
