// The formats of pack files and of the store's index values (docs/formats.md has the tables),
// shared by the pack writer, the pack reader, fsck, gc and index rebuild. Private to store/.
// Constants and stateless functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/store/content_id.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/status.h"

namespace vrepo {

// Pack file: 16-byte header "VRPK", u32 version, 8 reserved zero bytes; then records.
inline constexpr char kPackMagic[4] = {'V', 'R', 'P', 'K'};
inline constexpr uint32_t kPackVersion = 1;
inline constexpr size_t kPackHeaderSize = 16;
// Record: "VRec", id[32], codec u8, raw size u64, stored size u64, crc32 of the payload, crc32 of
// the 57 header bytes before it; then the payload. Integers are little-endian.
inline constexpr char kRecordMagic[4] = {'V', 'R', 'e', 'c'};
inline constexpr size_t kRecordHeaderSize = 61;
// Index value of 'o' + id: version u8, codec u8, pack u32, offset u64, stored u64, raw u64; a
// chunked object follows with u32 count and count x (id[32], size u64).
inline constexpr uint8_t kLocationVersion = 1;
inline constexpr size_t kLocationSize = 30;
inline constexpr size_t kChunkRefSize = 40;
// The store's format, kept in the index so that a newer one is refused, not misread.
inline constexpr char kFormatKey[] = "mstore.format";
inline constexpr char kFormatValue[] = "1";
// zstd cannot expand more than this (an RLE block of 128 KiB takes 4 bytes), so a larger claimed
// raw size is corruption, not an allocation to attempt.
inline constexpr uint64_t kMaxZstdRatio = 1 << 16;

struct RecordHeader {
  ContentId id;
  uint8_t codec = 0;
  uint64_t raw_size = 0;
  uint64_t stored_size = 0;
  uint32_t payload_crc = 0;
};

// An object's index entry, decoded (for a chunked object, without its chunk list).
struct IndexEntry {
  ContentId id;
  ObjectLocation loc;
};

uint32_t Crc32(std::string_view data);
// The index key of object `id`: 'o' + its raw bytes.
std::string ObjectKey(const ContentId& id);
// "pack-<8 digits>.vpk".
std::string PackName(uint32_t number);
// False when `name` is not a pack file's name.
bool ParsePackName(const char* name, uint32_t* number);
// The numbers of the pack files in `packs_dir`, ascending.
Result<std::vector<uint32_t>> ListPackNumbers(const std::string& packs_dir);
// The 16 bytes that open a pack file of the current version.
std::string PackHeader();
// "<pack_path> at offset <offset>", for error messages.
std::string Where(const std::string& pack_path, uint64_t offset);

// Writes the kRecordHeaderSize bytes of `h` to `out`.
void EncodeRecordHeader(const RecordHeader& h, char* out);
// Parses the record header at `offset` and checks that its payload lies inside `pack`.
Status DecodeRecordHeader(std::string_view pack, uint64_t offset, const std::string& pack_path,
                          RecordHeader* h);

// The index value of an object; `chunks` is the chunk list of a chunked one, else null.
std::string EncodeLocation(const ObjectLocation& loc, const std::vector<ChunkRef>* chunks);
// Parses an index value of object `id`; `chunks` (may be null) gets a chunked one's list.
Status DecodeLocation(std::string_view v, const ContentId& id, ObjectLocation* loc,
                      std::vector<ChunkRef>* chunks);

// Sorts by pack, then offset, so that each pack is read front to back once.
void SortByPackOffset(std::vector<IndexEntry>* entries);

}  // namespace vrepo
