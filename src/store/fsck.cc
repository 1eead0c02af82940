// ObjectStore::Fsck: reads every object the index names and checks it against its id.
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "compression.h"
#include "object_store_impl.h"

namespace vrepo {

namespace {

struct IndexedObjects {
  std::vector<IndexEntry> packed;
  std::vector<std::pair<ContentId, std::vector<ChunkRef>>> chunked;
};

// Reads every object entry of the index; entries that do not decode become problems.
Status ReadObjectEntries(const IndexDb& index, IndexedObjects* objects,
                         std::vector<FsckProblem>* problems) {
  return index.ScanPrefix(
      std::string(1, key_prefix::kObject), [&](std::string_view key, std::string_view value) {
        auto id = ContentId::FromRaw(key.substr(1));
        if (!id.ok()) {
          problems->push_back({"", "", "index key of bad length: " + id.status().message()});
          return true;
        }
        IndexEntry e{*id, {}};
        std::vector<ChunkRef> chunks;
        Status st = DecodeLocation(value, e.id, &e.loc, &chunks);
        if (!st.ok()) {
          problems->push_back({e.id.Hex(), "", st.message()});
        } else if (e.loc.codec == ObjectLocation::Codec::kChunked) {
          objects->chunked.emplace_back(e.id, std::move(chunks));
        } else {
          objects->packed.push_back(e);
        }
        return true;
      });
}

// Reads and checks `packed`, sorted by pack and offset, pack by pack; the ids that fail go to
// `bad_objects`. Counts each object in *checked.
void CheckPacked(const PackReader& reader, const std::vector<IndexEntry>& packed,
                 const std::function<void(uint64_t)>& progress, uint64_t* checked,
                 std::unordered_set<ContentId, ContentIdHash>* bad_objects,
                 std::vector<FsckProblem>* problems) {
  std::string scratch;
  for (size_t i = 0; i < packed.size();) {
    uint32_t pack = packed[i].loc.pack;
    size_t j = i;
    while (j < packed.size() && packed[j].loc.pack == pack) ++j;
    std::string path = reader.PackPath(pack);
    auto mapped = reader.MapPack(pack);
    if (!mapped.ok()) {
      problems->push_back({"", path,
                           "cannot open pack file (" + std::to_string(j - i) +
                               " objects are in it): " + mapped.status().message()});
      for (size_t k = i; k < j; ++k) bad_objects->insert(packed[k].id);
      *checked += j - i;
      if (progress) progress(*checked);
      i = j;
      continue;
    }
    for (; i < j; ++i) {
      std::shared_ptr<const MappedFile> hold;
      auto bytes = reader.ReadPacked(packed[i].id, packed[i].loc, true, &hold, &scratch);
      if (!bytes.ok()) {
        problems->push_back({packed[i].id.Hex(), path, bytes.status().message()});
        bad_objects->insert(packed[i].id);
      }
      TrimScratch(scratch);
      if (progress) progress(++*checked);
    }
  }
}

// Checks that each chunked object's chunks are stored, sound and add up to its id.
void CheckChunked(const PackReader& reader,
                  const std::vector<std::pair<ContentId, std::vector<ChunkRef>>>& chunked,
                  const std::unordered_set<ContentId, ContentIdHash>& bad_objects,
                  const std::function<void(uint64_t)>& progress, uint64_t* checked,
                  std::vector<FsckProblem>* problems) {
  for (const auto& [id, chunks] : chunked) {
    bool complete = true;
    for (const ChunkRef& c : chunks) {
      ObjectLocation cloc;
      Status st = reader.Locate(c.id, &cloc, nullptr);
      if (!st.ok() || cloc.raw_size != c.size) {
        problems->push_back({id.Hex(), "",
                             "chunk " + c.id.Hex() +
                                 (st.ok() ? " has the wrong size" : " is missing from the store")});
        complete = false;
        break;
      }
      if (bad_objects.count(c.id)) complete = false;
    }
    // With every chunk sound on its own, the chunk list itself is checked by the file's id.
    if (complete) {
      Status st = reader.ForEachChunk(id, chunks, [](std::string_view) { return Status::OK(); });
      if (!st.ok()) problems->push_back({id.Hex(), "", st.message()});
    }
    if (progress) progress(++*checked);
  }
}

}  // namespace

Result<std::vector<FsckProblem>> ObjectStore::Fsck(
    const std::function<void(uint64_t)>& progress) const {
  IndexedObjects objects;
  std::vector<FsckProblem> problems;
  VREPO_RETURN_IF_ERROR(ReadObjectEntries(*impl_->index, &objects, &problems));
  // Pack order, then offset order: each pack is read front to back once.
  SortByPackOffset(&objects.packed);
  uint64_t checked = 0;
  std::unordered_set<ContentId, ContentIdHash> bad_objects;
  CheckPacked(*impl_->reader, objects.packed, progress, &checked, &bad_objects, &problems);
  CheckChunked(*impl_->reader, objects.chunked, bad_objects, progress, &checked, &problems);
  return problems;
}

}  // namespace vrepo
