// The sample digest: SHA-256 over the ordered (path, content id, label) list of the samples
// of one split, the identity a training run records (ARCHITECTURE.md, "Dataset identity").
// Encoding (docs/formats.md): "vrepo-sample-digest-v1\n", then per sample sorted by path
// (bytewise): u32le path length, path, 32 raw id bytes, u32le label length, label.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vrepo/store/content_id.h"

namespace vrepo {

struct DigestEntry {
  std::string path;
  ContentId id;
  std::string label;
};

// `entries` in any order; they are sorted by path first. Returns 64 hex digits.
std::string SampleDigest(std::vector<DigestEntry> entries);

// The same digest fed one sample at a time, for callers that already hold the samples
// sorted by path (bytewise) and would rather not copy them. One writer per thread.
class SampleDigestWriter {
 public:
  SampleDigestWriter();
  void Add(std::string_view path, const ContentId& id, std::string_view label);
  std::string Finish();  // 64 hex digits

 private:
  Sha256 sha_;
  std::string buffer_;
};

}  // namespace vrepo
