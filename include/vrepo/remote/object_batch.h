// Object batches: the wire format that carries content objects between repositories
// (docs/remote.md, "Object batches"). Records are the store's own (codec, raw size, stored
// bytes), so nothing is compressed twice. Decoding checks every record against its id.
// Functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/store/object_store.h"
#include "vrepo/util/status.h"

namespace vrepo {

// Builds one batch record by record.
class ObjectBatchBuilder {
 public:
  ObjectBatchBuilder();
  void Add(const StoredRecord& record);
  size_t count() const { return count_; }
  size_t size() const { return out_.size(); }
  // The batch; the builder is empty afterwards.
  std::string Finish();

 private:
  std::string out_;
  uint32_t count_ = 0;
};

std::string EncodeObjectBatch(const std::vector<StoredRecord>& records);

// One record of a parsed batch; `stored` views the batch's bytes.
struct BatchRecord {
  ContentId id;
  ObjectLocation::Codec codec = ObjectLocation::Codec::kRaw;
  uint64_t raw_size = 0;
  std::string_view stored;
  std::vector<ChunkRef> chunks;  // for a chunk list
  uint64_t offset = 0;           // byte offset of the record in the batch
};

// Parses the structure of a batch: header, lengths, codecs, chunk lists. Corruption naming
// the byte offset (and the object, once its id is read) when it is malformed or truncated.
Result<std::vector<BatchRecord>> ParseObjectBatch(std::string_view batch);

// Returns a chunk's bytes when it is not in the batch (NotFound when it is nowhere).
using ChunkSource = std::function<Result<std::string>(const ContentId&)>;

// Checks that `record` decodes to its id: raw bytes hash to it, zstd decompresses to
// raw_size bytes that hash to it, a chunk list's chunks (from `batch` or `chunk_source`)
// concatenate to it. Corruption naming the object otherwise.
Status VerifyBatchRecord(const BatchRecord& record, const std::vector<BatchRecord>& batch,
                         const ChunkSource& chunk_source);

// ParseObjectBatch, then VerifyBatchRecord on every record.
Result<std::vector<BatchRecord>> DecodeObjectBatch(std::string_view batch,
                                                   const ChunkSource& chunk_source);

// A record's decoded bytes (verified by the caller or not).
Result<std::string> DecodeRecordBytes(const BatchRecord& record);

}  // namespace vrepo
