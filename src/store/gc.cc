// ObjectStore::Gc: copies the live objects into one new pack and drops the rest.
#include <unistd.h>

#include <cerrno>
#include <unordered_set>
#include <vector>

#include "object_store_impl.h"

namespace vrepo {

namespace {

// Reads every object entry of the index into `entries`, and into `keep` the ids that are live (with
// the chunks of live chunked objects). An entry that does not decode stops it.
Status FindLive(const IndexDb& index, const std::function<bool(const ContentId&)>& live,
                std::vector<IndexEntry>* entries,
                std::unordered_set<ContentId, ContentIdHash>* keep) {
  Status decode_error;
  VREPO_RETURN_IF_ERROR(index.ScanPrefix(std::string(1, key_prefix::kObject),
                                         [&](std::string_view key, std::string_view value) {
                                           auto id = ContentId::FromRaw(key.substr(1));
                                           if (!id.ok()) return true;
                                           IndexEntry e{*id, {}};
                                           std::vector<ChunkRef> chunks;
                                           Status st = DecodeLocation(value, e.id, &e.loc, &chunks);
                                           if (!st.ok()) {
                                             decode_error = st;
                                             return false;
                                           }
                                           if (live(e.id)) {
                                             keep->insert(e.id);
                                             for (const ChunkRef& c : chunks) keep->insert(c.id);
                                           }
                                           entries->push_back(e);
                                           return true;
                                         }));
  return decode_error;
}

}  // namespace

Result<uint64_t> ObjectStore::Gc(const std::function<bool(const ContentId&)>& live) {
  if (impl_->read_only)
    return Status::InvalidArgument("store " + impl_->vrepo_dir + " is read-only");
  if (impl_->active_writers.load() > 0) {
    return Status::InvalidArgument("cannot gc " + impl_->vrepo_dir +
                                   " while a write session is open");
  }
  std::vector<IndexEntry> entries;
  std::unordered_set<ContentId, ContentIdHash> keep;
  // Refuse rather than guess: dropping an entry we cannot read could drop live data.
  Status found = FindLive(*impl_->index, live, &entries, &keep);
  if (!found.ok()) return found.WithContext("gc stopped");

  SortByPackOffset(&entries);
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, NewWriter());
  PackWriter::Impl& w = *writer->impl_;
  IndexBatch deletes;
  uint64_t dropped = 0;
  for (const IndexEntry& e : entries) {
    if (!keep.count(e.id)) {
      deletes.Delete(ObjectKey(e.id));
      ++dropped;
      continue;
    }
    if (e.loc.codec == ObjectLocation::Codec::kChunked) continue;  // index entry only
    // Copied as stored, neither decompressed nor re-hashed: its checksum vouches for it.
    std::shared_ptr<const MappedFile> hold;
    RecordHeader header;
    auto payload = impl_->reader->CheckedPayload(e.id, e.loc, &hold, &header);
    if (!payload.ok()) return payload.status().WithContext("gc stopped");
    VREPO_ASSIGN_OR_RETURN(bool present, w.Claim(e.id, false));
    if (present) continue;
    VREPO_RETURN_IF_ERROR(
        w.AppendRecord(e.id, e.loc.codec, e.loc.raw_size, *payload, header.payload_crc));
  }
  uint32_t new_pack = w.number;
  // The new pack is synced before the batch names it; old packs go only after the batch.
  VREPO_RETURN_IF_ERROR(writer->Commit(&deletes));
  writer.reset();
  impl_->reader->ForgetPacks();
  VREPO_ASSIGN_OR_RETURN(std::vector<uint32_t> numbers, impl_->reader->ListPacks());
  for (uint32_t n : numbers) {
    if (n == new_pack) continue;
    std::string path = impl_->reader->PackPath(n);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("removing old pack " + path, errno);
    }
  }
  VREPO_RETURN_IF_ERROR(SyncDir(impl_->packs_dir));
  return dropped;
}

}  // namespace vrepo
