#include "vrepo/dataset/sample_digest.h"

#include <algorithm>

namespace vrepo {
namespace {

void AppendLength(std::string* out, size_t n) {
  const uint32_t v = static_cast<uint32_t>(n);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

std::string SampleDigest(std::vector<DigestEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const DigestEntry& a, const DigestEntry& b) { return a.path < b.path; });
  Sha256 sha;
  sha.Update("vrepo-sample-digest-v1\n");
  std::string buffer;
  for (const auto& e : entries) {
    AppendLength(&buffer, e.path.size());
    buffer += e.path;
    buffer += e.id.Raw();
    AppendLength(&buffer, e.label.size());
    buffer += e.label;
    // Hash in large pieces: one Update per sample costs more than the hashing itself.
    if (buffer.size() > (1 << 16)) {
      sha.Update(buffer);
      buffer.clear();
    }
  }
  sha.Update(buffer);
  return sha.Finish().Hex();
}

}  // namespace vrepo
