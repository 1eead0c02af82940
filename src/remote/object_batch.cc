#include "vrepo/remote/object_batch.h"

#include <zstd.h>

#include <cstring>
#include <memory>
#include <unordered_map>

#include "vrepo/util/little_endian.h"

namespace vrepo {

namespace {

// "VRB1" u32 count, then count x {id[32] u8 codec u64 raw_size u64 stored_size stored}.
constexpr char kMagic[4] = {'V', 'R', 'B', '1'};
constexpr size_t kHeaderSize = 8;
constexpr size_t kRecordHeaderSize = 32 + 1 + 8 + 8;
// A chunk list's stored bytes: count x {id[32] u64 size}.
constexpr size_t kChunkEntrySize = 40;
// zstd cannot expand more than this (see store/pack_format.h); a larger claim is corruption.
constexpr uint64_t kMaxZstdRatio = 1 << 16;

Status Bad(uint64_t offset, const std::string& why) {
  return Status::Corruption("object batch: at byte offset " + std::to_string(offset) + ": " + why);
}
Status BadObject(const BatchRecord& r, const std::string& why) {
  return Status::Corruption("object batch: object " + r.id.Hex() + " (byte offset " +
                            std::to_string(r.offset) + "): " + why);
}

struct DStreamFree {
  void operator()(ZSTD_DStream* d) const { ZSTD_freeDStream(d); }
};

// Feeds the decoded bytes of a raw or zstd record to `sink`, in pieces, never holding more
// than one piece: a record that claims a huge size costs no memory before it is refuted.
Status StreamRecord(const BatchRecord& r, const std::function<void(std::string_view)>& sink) {
  if (r.codec == ObjectLocation::Codec::kRaw) {
    sink(r.stored);
    return Status::OK();
  }
  thread_local std::unique_ptr<ZSTD_DStream, DStreamFree> ds(ZSTD_createDStream());
  ZSTD_initDStream(ds.get());
  std::string buf(std::min<uint64_t>(r.raw_size + 1, ZSTD_DStreamOutSize()), '\0');
  if (buf.empty()) buf.resize(1);
  ZSTD_inBuffer in{r.stored.data(), r.stored.size(), 0};
  uint64_t produced = 0;
  size_t ret = 1;
  while (true) {
    ZSTD_outBuffer out{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(ds.get(), &out, &in);
    if (ZSTD_isError(ret)) return BadObject(r, std::string("zstd: ") + ZSTD_getErrorName(ret));
    produced += out.pos;
    if (produced > r.raw_size) return BadObject(r, "decompresses past its size");
    if (out.pos > 0) sink(std::string_view(buf.data(), out.pos));
    if (ret == 0 && in.pos == in.size) break;
    if (ret == 0) {
      // A frame ended; another may follow, as zstd allows, and is decoded the same way.
      continue;
    }
    if (in.pos == in.size && out.pos < out.size) {
      return BadObject(r, "zstd stream is truncated");
    }
  }
  if (produced != r.raw_size) {
    return BadObject(r, "decompresses to " + std::to_string(produced) + " bytes, not " +
                            std::to_string(r.raw_size));
  }
  return Status::OK();
}

}  // namespace

ObjectBatchBuilder::ObjectBatchBuilder() {
  out_.assign(kMagic, 4);
  AppendU32(&out_, 0);
}

void ObjectBatchBuilder::Add(const StoredRecord& r) {
  out_.append(r.id.Raw());
  out_.push_back(static_cast<char>(r.codec));
  AppendU64(&out_, r.raw_size);
  if (r.codec == ObjectLocation::Codec::kChunked) {
    AppendU64(&out_, r.chunks.size() * kChunkEntrySize);
    for (const ChunkRef& c : r.chunks) {
      out_.append(c.id.Raw());
      AppendU64(&out_, c.size);
    }
  } else {
    AppendU64(&out_, r.stored.size());
    out_.append(r.stored);
  }
  ++count_;
}

std::string ObjectBatchBuilder::Finish() {
  PutU32(out_.data() + 4, count_);
  std::string out = std::move(out_);
  out_.assign(kMagic, 4);
  AppendU32(&out_, 0);
  count_ = 0;
  return out;
}

std::string EncodeObjectBatch(const std::vector<StoredRecord>& records) {
  ObjectBatchBuilder b;
  for (const StoredRecord& r : records) b.Add(r);
  return b.Finish();
}

Result<std::vector<BatchRecord>> ParseObjectBatch(std::string_view batch) {
  if (batch.size() < kHeaderSize) return Bad(0, "truncated header");
  if (std::memcmp(batch.data(), kMagic, 4) != 0) {
    return Bad(0, "not an object batch (version 1 expected)");
  }
  uint32_t count = GetU32(batch.data() + 4);
  std::vector<BatchRecord> out;
  // Not reserved from `count`: a forged count must not allocate.
  uint64_t pos = kHeaderSize;
  for (uint32_t i = 0; i < count; ++i) {
    if (batch.size() - pos < kRecordHeaderSize) {
      return Bad(pos,
                 "record " + std::to_string(i) + " of " + std::to_string(count) + " is truncated");
    }
    BatchRecord r;
    r.offset = pos;
    const char* p = batch.data() + pos;
    std::memcpy(r.id.bytes.data(), p, 32);
    uint8_t codec = static_cast<uint8_t>(p[32]);
    r.raw_size = GetU64(p + 33);
    uint64_t stored_size = GetU64(p + 41);
    pos += kRecordHeaderSize;
    if (codec > static_cast<uint8_t>(ObjectLocation::Codec::kChunked)) {
      return BadObject(r, "unknown codec " + std::to_string(codec));
    }
    r.codec = static_cast<ObjectLocation::Codec>(codec);
    if (stored_size > batch.size() - pos) {
      return BadObject(r, std::to_string(stored_size) + " stored bytes run past the end (" +
                              std::to_string(batch.size() - pos) + " left)");
    }
    r.stored = batch.substr(pos, stored_size);
    pos += stored_size;
    switch (r.codec) {
      case ObjectLocation::Codec::kRaw:
        if (r.raw_size != stored_size) return BadObject(r, "raw record with differing sizes");
        break;
      case ObjectLocation::Codec::kZstd:
        if (r.raw_size / kMaxZstdRatio > stored_size) {
          return BadObject(r, "implausible size " + std::to_string(r.raw_size));
        }
        break;
      case ObjectLocation::Codec::kChunked: {
        if (stored_size == 0 || stored_size % kChunkEntrySize != 0) {
          return BadObject(r, "chunk list of " + std::to_string(stored_size) + " bytes");
        }
        uint64_t total = 0;
        for (uint64_t off = 0; off < stored_size; off += kChunkEntrySize) {
          ChunkRef c;
          std::memcpy(c.id.bytes.data(), r.stored.data() + off, 32);
          c.size = GetU64(r.stored.data() + off + 32);
          if (c.size > UINT64_MAX - total) return BadObject(r, "chunk sizes overflow");
          total += c.size;
          r.chunks.push_back(c);
        }
        if (total != r.raw_size) return BadObject(r, "chunk sizes do not add up to its size");
        r.stored = {};
        break;
      }
    }
    out.push_back(std::move(r));
  }
  if (pos != batch.size()) {
    return Bad(pos, std::to_string(batch.size() - pos) + " bytes after the last record");
  }
  return out;
}

Status VerifyBatchRecord(const BatchRecord& r, const std::vector<BatchRecord>& batch,
                         const ChunkSource& chunk_source) {
  Sha256 hash;
  if (r.codec != ObjectLocation::Codec::kChunked) {
    VREPO_RETURN_IF_ERROR(StreamRecord(r, [&](std::string_view piece) { hash.Update(piece); }));
    if (hash.Finish() != r.id) return BadObject(r, "bytes do not match the object's id");
    return Status::OK();
  }
  std::unordered_map<ContentId, const BatchRecord*, ContentIdHash> in_batch;
  for (const BatchRecord& b : batch) {
    if (b.codec != ObjectLocation::Codec::kChunked) in_batch.emplace(b.id, &b);
  }
  for (const ChunkRef& c : r.chunks) {
    uint64_t size = 0;
    auto it = in_batch.find(c.id);
    if (it != in_batch.end()) {
      const BatchRecord& chunk = *it->second;
      if (chunk.raw_size != c.size) {
        return BadObject(r, "chunk " + c.id.Hex() + " is not the size its chunk list says");
      }
      Sha256 chunk_hash;
      VREPO_RETURN_IF_ERROR(StreamRecord(chunk, [&](std::string_view piece) {
        hash.Update(piece);
        chunk_hash.Update(piece);
        size += piece.size();
      }));
      if (chunk_hash.Finish() != c.id) {
        return BadObject(chunk, "bytes do not match the object's id");
      }
      continue;
    }
    if (!chunk_source) return BadObject(r, "chunk " + c.id.Hex() + " is missing");
    auto bytes = chunk_source(c.id);
    if (!bytes.ok()) {
      if (bytes.status().code() == Status::Code::kNotFound) {
        return BadObject(r, "chunk " + c.id.Hex() + " is missing");
      }
      return bytes.status().WithContext("object " + r.id.Hex());
    }
    if (bytes->size() != c.size) {
      return BadObject(r, "chunk " + c.id.Hex() + " is not the size its chunk list says");
    }
    hash.Update(*bytes);
  }
  if (hash.Finish() != r.id) return BadObject(r, "its chunks do not add up to the object's id");
  return Status::OK();
}

Result<std::vector<BatchRecord>> DecodeObjectBatch(std::string_view batch,
                                                   const ChunkSource& chunk_source) {
  VREPO_ASSIGN_OR_RETURN(std::vector<BatchRecord> records, ParseObjectBatch(batch));
  for (const BatchRecord& r : records) {
    VREPO_RETURN_IF_ERROR(VerifyBatchRecord(r, records, chunk_source));
  }
  return records;
}

Result<std::string> DecodeRecordBytes(const BatchRecord& r) {
  if (r.codec == ObjectLocation::Codec::kChunked) {
    return BadObject(r, "a chunk list has no bytes of its own");
  }
  std::string out;
  VREPO_RETURN_IF_ERROR(StreamRecord(r, [&](std::string_view piece) { out.append(piece); }));
  return out;
}

}  // namespace vrepo
