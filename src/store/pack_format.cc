#include "pack_format.h"

#include <dirent.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>

#include "vrepo/store/index_db.h"
#include "vrepo/util/little_endian.h"

namespace vrepo {

uint32_t Crc32(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string ObjectKey(const ContentId& id) {
  std::string key(1, key_prefix::kObject);
  key.append(id.Raw());
  return key;
}

std::string PackName(uint32_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "pack-%08u.vpk", number);
  return buf;
}

bool ParsePackName(const char* name, uint32_t* number) {
  std::string_view n(name);
  if (n.size() < 14 || n.substr(0, 5) != "pack-" || n.substr(n.size() - 4) != ".vpk") return false;
  std::string_view digits = n.substr(5, n.size() - 9);
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > UINT32_MAX) return false;
  }
  *number = static_cast<uint32_t>(v);
  return true;
}

Result<std::vector<uint32_t>> ListPackNumbers(const std::string& packs_dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(packs_dir.c_str()), ::closedir);
  if (!dir) return Status::FromErrno(packs_dir, errno);
  std::vector<uint32_t> numbers;
  while (dirent* e = ::readdir(dir.get())) {
    uint32_t n;
    if (ParsePackName(e->d_name, &n)) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

std::string PackHeader() {
  char header[kPackHeaderSize] = {};
  std::memcpy(header, kPackMagic, 4);
  PutU32(header + 4, kPackVersion);
  return std::string(header, sizeof(header));
}

std::string Where(const std::string& pack_path, uint64_t offset) {
  return pack_path + " at offset " + std::to_string(offset);
}

void EncodeRecordHeader(const RecordHeader& h, char* out) {
  std::memcpy(out, kRecordMagic, 4);
  std::memcpy(out + 4, h.id.bytes.data(), 32);
  out[36] = static_cast<char>(h.codec);
  PutU64(out + 37, h.raw_size);
  PutU64(out + 45, h.stored_size);
  PutU32(out + 53, h.payload_crc);
  PutU32(out + 57, Crc32(std::string_view(out, 57)));
}

Status DecodeRecordHeader(std::string_view pack, uint64_t offset, const std::string& pack_path,
                          RecordHeader* h) {
  if (offset < kPackHeaderSize || offset > pack.size() ||
      pack.size() - offset < kRecordHeaderSize) {
    return Status::Corruption("record header past the end of " + Where(pack_path, offset));
  }
  const char* p = pack.data() + offset;
  if (std::memcmp(p, kRecordMagic, 4) != 0) {
    return Status::Corruption("no record marker in " + Where(pack_path, offset));
  }
  if (GetU32(p + 57) != Crc32(std::string_view(p, 57))) {
    return Status::Corruption("record header checksum mismatch in " + Where(pack_path, offset));
  }
  std::memcpy(h->id.bytes.data(), p + 4, 32);
  h->codec = static_cast<uint8_t>(p[36]);
  h->raw_size = GetU64(p + 37);
  h->stored_size = GetU64(p + 45);
  h->payload_crc = GetU32(p + 53);
  if (h->codec > static_cast<uint8_t>(ObjectLocation::Codec::kZstd)) {
    return Status::Corruption("unknown codec " + std::to_string(h->codec) + " in " +
                              Where(pack_path, offset));
  }
  if (h->stored_size > pack.size() - offset - kRecordHeaderSize) {
    return Status::Corruption("record of " + std::to_string(h->stored_size) +
                              " bytes runs past the end of " + Where(pack_path, offset));
  }
  return Status::OK();
}

std::string EncodeLocation(const ObjectLocation& loc, const std::vector<ChunkRef>* chunks) {
  std::string v(kLocationSize, '\0');
  v[0] = static_cast<char>(kLocationVersion);
  v[1] = static_cast<char>(loc.codec);
  PutU32(v.data() + 2, loc.pack);
  PutU64(v.data() + 6, loc.offset);
  PutU64(v.data() + 14, loc.stored_size);
  PutU64(v.data() + 22, loc.raw_size);
  if (chunks) {
    char buf[kChunkRefSize];
    PutU32(buf, static_cast<uint32_t>(chunks->size()));
    v.append(buf, 4);
    for (const ChunkRef& c : *chunks) {
      std::memcpy(buf, c.id.bytes.data(), 32);
      PutU64(buf + 32, c.size);
      v.append(buf, kChunkRefSize);
    }
  }
  return v;
}

Status DecodeLocation(std::string_view v, const ContentId& id, ObjectLocation* loc,
                      std::vector<ChunkRef>* chunks) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("index entry of object " + id.Hex() + ": " + why);
  };
  if (v.size() < kLocationSize) return bad("too short");
  if (static_cast<uint8_t>(v[0]) != kLocationVersion) {
    return bad("format version " + std::to_string(static_cast<uint8_t>(v[0])) +
               " is not understood by this vrepo");
  }
  uint8_t codec = static_cast<uint8_t>(v[1]);
  if (codec > static_cast<uint8_t>(ObjectLocation::Codec::kChunked)) {
    return bad("unknown codec " + std::to_string(codec));
  }
  loc->codec = static_cast<ObjectLocation::Codec>(codec);
  loc->pack = GetU32(v.data() + 2);
  loc->offset = GetU64(v.data() + 6);
  loc->stored_size = GetU64(v.data() + 14);
  loc->raw_size = GetU64(v.data() + 22);
  if (loc->codec != ObjectLocation::Codec::kChunked) {
    if (v.size() != kLocationSize) return bad("trailing bytes");
    return Status::OK();
  }
  if (v.size() < kLocationSize + 4) return bad("chunk list missing");
  uint32_t count = GetU32(v.data() + kLocationSize);
  if (v.size() != kLocationSize + 4 + uint64_t{count} * kChunkRefSize) {
    return bad("chunk list has the wrong length");
  }
  if (!chunks) return Status::OK();
  chunks->clear();
  chunks->reserve(count);
  uint64_t total = 0;
  const char* p = v.data() + kLocationSize + 4;
  for (uint32_t i = 0; i < count; ++i, p += kChunkRefSize) {
    ChunkRef c;
    std::memcpy(c.id.bytes.data(), p, 32);
    c.size = GetU64(p + 32);
    total += c.size;
    chunks->push_back(c);
  }
  if (total != loc->raw_size) return bad("chunk sizes do not add up to the object size");
  return Status::OK();
}

void SortByPackOffset(std::vector<IndexEntry>* entries) {
  std::sort(entries->begin(), entries->end(), [](const IndexEntry& a, const IndexEntry& b) {
    return std::tie(a.loc.pack, a.loc.offset) < std::tie(b.loc.pack, b.loc.offset);
  });
}

}  // namespace vrepo
