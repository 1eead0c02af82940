// Fuzz target: the S3 pack index parser (DecodeS3PackIndex, vrepo/remote/s3_transport.h). The
// pack id is taken from where an index names its pack, so that inputs get past that check. A
// refusal is Corruption naming the index on one line; an index that parses is encoded back to
// the same bytes, and its records follow each other from the batch header on.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "vrepo/remote/s3_transport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  vrepo::ContentId pack = vrepo::ContentId::Of("no pack");
  if (size >= 40) {
    auto named = vrepo::ContentId::FromRaw(input.substr(8, 32));
    if (!named.ok()) std::abort();
    pack = *named;
  }
  const std::string source = "packs/fuzz.idx";
  auto entries = vrepo::DecodeS3PackIndex(input, pack, source);
  if (!entries.ok()) {
    if (entries.status().code() != vrepo::Status::Code::kCorruption) std::abort();
    if (entries.status().message().rfind(source + ": ", 0) != 0) std::abort();
    if (entries.status().message().find('\n') != std::string::npos) std::abort();
    return 0;
  }
  if (vrepo::EncodeS3PackIndex(pack, *entries) != input) std::abort();
  uint64_t expected = 8;
  for (const vrepo::S3PackIndexEntry& e : *entries) {
    if (e.offset != expected) std::abort();
    expected += e.length;
  }
  return 0;
}
