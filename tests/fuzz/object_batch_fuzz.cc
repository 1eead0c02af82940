// Fuzz target: DecodeObjectBatch on arbitrary bytes (no store behind it, so chunks must be in
// the batch), then, for a batch that decodes, a re-encode that must decode to the same ids.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vrepo/remote/object_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  vrepo::ChunkSource none = [](const vrepo::ContentId& id) -> vrepo::Result<std::string> {
    return vrepo::Status::NotFound("chunk " + id.Hex());
  };
  auto records = vrepo::DecodeObjectBatch(input, none);
  if (!records.ok()) {
    // Every refusal is a Corruption that names where.
    if (records.status().code() != vrepo::Status::Code::kCorruption) std::abort();
    if (records.status().message().rfind("object batch: ", 0) != 0) std::abort();
    return 0;
  }
  std::vector<vrepo::StoredRecord> copies;
  for (const vrepo::BatchRecord& r : *records) {
    vrepo::StoredRecord s;
    s.id = r.id;
    s.codec = r.codec;
    s.raw_size = r.raw_size;
    s.stored.assign(r.stored);
    s.chunks = r.chunks;
    copies.push_back(std::move(s));
  }
  auto again = vrepo::DecodeObjectBatch(vrepo::EncodeObjectBatch(copies), none);
  if (!again.ok() || again->size() != records->size()) std::abort();
  for (size_t i = 0; i < again->size(); ++i) {
    if ((*again)[i].id != (*records)[i].id) std::abort();
  }
  return 0;
}
