#include "vrepo/dataset/sample_digest.h"

#include <algorithm>

namespace vrepo {
namespace {

void AppendLength(std::string* out, size_t n) {
  const uint32_t v = static_cast<uint32_t>(n);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

SampleDigestWriter::SampleDigestWriter() { sha_.Update("vrepo-sample-digest-v1\n"); }

void SampleDigestWriter::Add(std::string_view path, const ContentId& id, std::string_view label) {
  AppendLength(&buffer_, path.size());
  buffer_ += path;
  buffer_ += id.Raw();
  AppendLength(&buffer_, label.size());
  buffer_ += label;
  // Hash in large pieces: one Update per sample costs more than the hashing itself.
  if (buffer_.size() > (1 << 16)) {
    sha_.Update(buffer_);
    buffer_.clear();
  }
}

std::string SampleDigestWriter::Finish() {
  sha_.Update(buffer_);
  buffer_.clear();
  return sha_.Finish().Hex();
}

std::string SampleDigest(std::vector<DigestEntry> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const DigestEntry& a, const DigestEntry& b) { return a.path < b.path; });
  SampleDigestWriter writer;
  for (const auto& e : entries) writer.Add(e.path, e.id, e.label);
  return writer.Finish();
}

}  // namespace vrepo
