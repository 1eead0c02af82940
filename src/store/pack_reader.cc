#include "pack_reader.h"

#include <cstring>
#include <mutex>

#include "compression.h"
#include "vrepo/util/little_endian.h"

namespace vrepo {

PackReader::PackReader(std::string packs_dir, const IndexDb* index)
    : packs_dir_(std::move(packs_dir)), index_(index) {}

Result<std::shared_ptr<const MappedFile>> PackReader::MapPack(uint32_t number) const {
  {
    std::shared_lock lock(mu_);
    auto it = packs_.find(number);
    if (it != packs_.end()) return it->second;
  }
  auto opened = MappedFile::Open(PackPath(number));
  if (!opened.ok()) {
    // The index names this pack, so its absence is damage, not a missing object.
    if (opened.status().code() == Status::Code::kNotFound) {
      return Status::Corruption("pack file named by the index is missing: " + PackPath(number));
    }
    return opened.status();
  }
  auto mapped = std::make_shared<const MappedFile>(std::move(opened).value());
  std::unique_lock lock(mu_);
  auto [it, inserted] = packs_.emplace(number, std::move(mapped));
  return it->second;
}

void PackReader::ForgetPacks() {
  std::unique_lock lock(mu_);
  packs_.clear();
}

Status PackReader::Locate(const ContentId& id, ObjectLocation* loc,
                          std::vector<ChunkRef>* chunks) const {
  auto value = index_->Get(ObjectKey(id));
  if (!value.ok()) {
    if (value.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("object " + id.Hex() + " is not in the store");
    }
    return value.status();
  }
  return DecodeLocation(*value, id, loc, chunks);
}

Result<std::string_view> PackReader::Payload(const ContentId& id, const ObjectLocation& loc,
                                             std::shared_ptr<const MappedFile>* hold,
                                             RecordHeader* header) const {
  VREPO_ASSIGN_OR_RETURN(*hold, MapPack(loc.pack));
  const std::string& path = (*hold)->path();
  std::string_view pack = (*hold)->data();
  auto bad = [&](const std::string& why) {
    return Status::Corruption("object " + id.Hex() + " in " + Where(path, loc.offset) + ": " + why);
  };
  if (pack.size() < kPackHeaderSize || std::memcmp(pack.data(), kPackMagic, 4) != 0) {
    return Status::Corruption("not a vrepo pack file: " + path);
  }
  if (GetU32(pack.data() + 4) != kPackVersion) {
    return Status::Corruption("pack format version " + std::to_string(GetU32(pack.data() + 4)) +
                              " is not understood by this vrepo: " + path);
  }
  Status st = DecodeRecordHeader(pack, loc.offset, path, header);
  if (!st.ok()) return st.WithContext("object " + id.Hex());
  if (header->id != id) return bad("the record holds object " + header->id.Hex());
  if (header->codec != static_cast<uint8_t>(loc.codec) || header->raw_size != loc.raw_size ||
      header->stored_size != loc.stored_size) {
    return bad("record header disagrees with the index");
  }
  if (loc.codec == ObjectLocation::Codec::kRaw && loc.raw_size != loc.stored_size) {
    return bad("raw record with differing sizes");
  }
  if (loc.codec == ObjectLocation::Codec::kZstd && loc.raw_size / kMaxZstdRatio > loc.stored_size) {
    return bad("implausible raw size " + std::to_string(loc.raw_size));
  }
  return pack.substr(loc.offset + kRecordHeaderSize, loc.stored_size);
}

Result<std::string_view> PackReader::CheckedPayload(const ContentId& id, const ObjectLocation& loc,
                                                    std::shared_ptr<const MappedFile>* hold,
                                                    RecordHeader* header) const {
  VREPO_ASSIGN_OR_RETURN(std::string_view payload, Payload(id, loc, hold, header));
  if (Crc32(payload) != header->payload_crc) {
    return Status::Corruption("object " + id.Hex() + " in " + Where((*hold)->path(), loc.offset) +
                              ": stored bytes fail their checksum [run fsck]");
  }
  return payload;
}

Result<std::string_view> PackReader::ReadPacked(const ContentId& id, const ObjectLocation& loc,
                                                bool check_crc,
                                                std::shared_ptr<const MappedFile>* hold,
                                                std::string* scratch) const {
  RecordHeader header;
  VREPO_ASSIGN_OR_RETURN(std::string_view payload, Payload(id, loc, hold, &header));
  const std::string& path = (*hold)->path();
  auto bad = [&](const std::string& why) {
    return Status::Corruption("object " + id.Hex() + " in " + Where(path, loc.offset) + ": " + why);
  };
  if (check_crc && Crc32(payload) != header.payload_crc) {
    return bad("stored bytes fail their checksum (the pack file is damaged)");
  }
  std::string_view bytes = payload;
  if (loc.codec == ObjectLocation::Codec::kZstd) {
    scratch->resize(loc.raw_size);
    size_t n = ZSTD_decompressDCtx(ThreadDCtx(), scratch->data(), scratch->size(), payload.data(),
                                   payload.size());
    if (ZSTD_isError(n)) return bad(std::string("zstd: ") + ZSTD_getErrorName(n));
    if (n != loc.raw_size) return bad("decompressed to the wrong size");
    bytes = *scratch;
  }
  if (ContentId::Of(bytes) != id) return bad("bytes do not match their content id");
  return bytes;
}

Status PackReader::ForEachChunk(const ContentId& id, const std::vector<ChunkRef>& chunks,
                                const std::function<Status(std::string_view)>& fn) const {
  Sha256 whole;
  std::string& scratch = ThreadScratch();
  for (const ChunkRef& c : chunks) {
    ObjectLocation cloc;
    Status st = Locate(c.id, &cloc, nullptr);
    if (!st.ok()) return st.WithContext("chunk of object " + id.Hex());
    if (cloc.codec == ObjectLocation::Codec::kChunked || cloc.raw_size != c.size) {
      return Status::Corruption("object " + id.Hex() + ": chunk " + c.id.Hex() +
                                " is not the size its chunk list says");
    }
    std::shared_ptr<const MappedFile> hold;
    VREPO_ASSIGN_OR_RETURN(std::string_view bytes, ReadPacked(c.id, cloc, false, &hold, &scratch));
    whole.Update(bytes);
    VREPO_RETURN_IF_ERROR(fn(bytes));
  }
  TrimScratch(scratch);
  if (whole.Finish() != id) {
    return Status::Corruption("object " + id.Hex() + ": its chunks do not add up to its id");
  }
  return Status::OK();
}

}  // namespace vrepo
