// PackReader: finds objects through the index and reads them out of the pack files, checked against
// their record headers and ids. Private to store/. Each pack is mapped once and stays mapped, so a
// reader keeps reading the packs its index snapshot names after a gc deleted them. Thread-safe;
// ForgetPacks must not run while views from MapPack are in use.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pack_format.h"
#include "vrepo/store/content_id.h"
#include "vrepo/store/index_db.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/file.h"
#include "vrepo/util/status.h"

namespace vrepo {

class PackReader {
 public:
  // Reads the packs in `packs_dir` named by `index`, which must outlive the reader.
  PackReader(std::string packs_dir, const IndexDb* index);

  const std::string& packs_dir() const { return packs_dir_; }
  std::string PackPath(uint32_t number) const { return JoinPath(packs_dir_, PackName(number)); }
  // The numbers of the pack files, ascending.
  Result<std::vector<uint32_t>> ListPacks() const { return ListPackNumbers(packs_dir_); }
  // The mapped pack file; Corruption when the index names a pack that is gone.
  Result<std::shared_ptr<const MappedFile>> MapPack(uint32_t number) const;
  // Drops every mapping (after gc replaced the packs).
  void ForgetPacks();

  // Looks `id` up in the index; `chunks` (may be null) gets a chunked object's chunk list. NotFound
  // when the object is not stored.
  Status Locate(const ContentId& id, ObjectLocation* loc, std::vector<ChunkRef>* chunks) const;
  // The stored payload of a packed object, after checking its record header against the index.
  // `hold` keeps the mapping alive while the view is used.
  Result<std::string_view> Payload(const ContentId& id, const ObjectLocation& loc,
                                   std::shared_ptr<const MappedFile>* hold,
                                   RecordHeader* header) const;
  // Payload, with the payload checked against its checksum too.
  Result<std::string_view> CheckedPayload(const ContentId& id, const ObjectLocation& loc,
                                          std::shared_ptr<const MappedFile>* hold,
                                          RecordHeader* header) const;
  // The object's bytes, verified against `id`: a view into the pack for raw records, or into
  // `scratch` for compressed ones. With `check_crc` the payload's checksum is checked too.
  Result<std::string_view> ReadPacked(const ContentId& id, const ObjectLocation& loc,
                                      bool check_crc, std::shared_ptr<const MappedFile>* hold,
                                      std::string* scratch) const;
  // Calls fn with each verified chunk of a chunked object, then checks the whole-file id.
  Status ForEachChunk(const ContentId& id, const std::vector<ChunkRef>& chunks,
                      const std::function<Status(std::string_view)>& fn) const;

 private:
  const std::string packs_dir_;
  const IndexDb* const index_;
  mutable std::shared_mutex mu_;  // guards packs_
  mutable std::unordered_map<uint32_t, std::shared_ptr<const MappedFile>> packs_;
};

}  // namespace vrepo
