// ObjectStore::RebuildIndex: a new index made from the pack files, for when the old one is missing
// or damaged.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "object_store_impl.h"
#include "vrepo/util/little_endian.h"

namespace vrepo {

namespace {

// Indexes the records of pack `number` into `index`, reporting what it could not read.
Status IndexPack(const std::string& packs_dir, uint32_t number, IndexDb* index,
                 IndexRebuildReport* report) {
  const std::string path = JoinPath(packs_dir, PackName(number));
  VREPO_ASSIGN_OR_RETURN(MappedFile pack, MappedFile::Open(path));
  std::string_view bytes = pack.data();
  if (bytes.size() < kPackHeaderSize || std::memcmp(bytes.data(), kPackMagic, 4) != 0 ||
      GetU32(bytes.data() + 4) != kPackVersion) {
    report->problems.push_back(path + ": not a pack file of version " +
                               std::to_string(kPackVersion) + "; skipped");
    return Status::OK();
  }
  ++report->packs;
  // Records are not self-delimiting past a damaged header, so the scan of a pack ends at the first
  // record that does not check out; what follows is reported, not guessed at.
  std::vector<std::pair<std::string, std::string>> entries;
  uint64_t offset = kPackHeaderSize;
  while (offset < bytes.size()) {
    RecordHeader h;
    Status st = DecodeRecordHeader(bytes, offset, path, &h);
    if (st.ok() && h.codec == static_cast<uint8_t>(ObjectLocation::Codec::kChunked)) {
      st = Status::Corruption("chunked codec in a pack record in " + Where(path, offset));
    }
    if (st.ok() &&
        Crc32(bytes.substr(offset + kRecordHeaderSize, h.stored_size)) != h.payload_crc) {
      st = Status::Corruption("payload checksum mismatch in " + Where(path, offset));
    }
    if (!st.ok()) {
      report->problems.push_back(st.message() + "; the " + std::to_string(bytes.size() - offset) +
                                 " bytes from there on were not indexed");
      break;
    }
    ObjectLocation loc;
    loc.codec = static_cast<ObjectLocation::Codec>(h.codec);
    loc.pack = number;
    loc.offset = offset;
    loc.stored_size = h.stored_size;
    loc.raw_size = h.raw_size;
    entries.emplace_back(ObjectKey(h.id), EncodeLocation(loc, nullptr));
    offset += kRecordHeaderSize + h.stored_size;
  }
  // An object in two packs (a gc interrupted before it deleted the old ones) keeps the copy in the
  // earlier pack, the one its first writer made visible.
  IndexBatch batch;
  for (const auto& [key, value] : entries) {
    if (index->Get(key).ok()) continue;
    batch.Put(key, value);
    ++report->objects;
  }
  return index->Write(&batch, false);
}

// Moves the index at `index_dir` (if any) aside and `fresh_dir` into its place.
Status SwapIndex(const std::string& vrepo_dir, const std::string& index_dir,
                 const std::string& fresh_dir, IndexRebuildReport* report) {
  if (IsDir(index_dir)) {
    report->old_index = index_dir + ".damaged";
    for (int n = 2; IsDir(report->old_index); ++n) {
      report->old_index = index_dir + ".damaged-" + std::to_string(n);
    }
    if (::rename(index_dir.c_str(), report->old_index.c_str()) != 0) {
      return Status::FromErrno("moving " + index_dir + " aside", errno);
    }
  }
  if (::rename(fresh_dir.c_str(), index_dir.c_str()) != 0) {
    return Status::FromErrno("moving " + fresh_dir + " into place", errno);
  }
  return SyncDir(vrepo_dir);
}

}  // namespace

Result<IndexRebuildReport> ObjectStore::RebuildIndex(const std::string& vrepo_dir) {
  const std::string index_dir = JoinPath(vrepo_dir, "index");
  const std::string fresh_dir = JoinPath(vrepo_dir, "index.rebuild");
  const std::string packs_dir = JoinPath(vrepo_dir, "objects/packs");
  IndexRebuildReport report;
  // Built beside the old index and swapped in by renames, so a crash leaves one or the other.
  VREPO_RETURN_IF_ERROR(RemoveTree(fresh_dir));
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<IndexDb> index, IndexDb::Open(fresh_dir, false, true));
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, ListPackNumbers(packs_dir));
  for (uint32_t number : numbers) {
    VREPO_RETURN_IF_ERROR(IndexPack(packs_dir, number, index.get(), &report));
  }
  IndexBatch batch;
  batch.Put(kFormatKey, kFormatValue);
  VREPO_RETURN_IF_ERROR(index->Write(&batch, /*sync=*/true));
  index.reset();
  VREPO_RETURN_IF_ERROR(SwapIndex(vrepo_dir, index_dir, fresh_dir, &report));
  return report;
}

}  // namespace vrepo
