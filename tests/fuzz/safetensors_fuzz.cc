// Fuzz target: ParseSafetensors on arbitrary bytes (a --base file or a run's weights from a
// remote), then, for a file that parses, a serialize/parse round trip that must give the same
// names, dtypes, shapes, bytes and metadata.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "vrepo/train/safetensors.h"

namespace {

bool SameTensor(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const size_t bytes = a.numel() * a.element_size();
  return bytes == 0 || std::memcmp(a.data_ptr(), b.data_ptr(), bytes) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = vrepo::train::ParseSafetensors(bytes, "w.safetensors");
  if (!file.ok()) {
    // A malformed file is Corruption naming it; only a tensor too large to allocate is IOError.
    const auto code = file.status().code();
    if (code != vrepo::Status::Code::kCorruption && code != vrepo::Status::Code::kIOError) {
      std::abort();
    }
    if (file.status().message().rfind("w.safetensors: ", 0) != 0) std::abort();
    return 0;
  }
  auto again_bytes = vrepo::train::SerializeSafetensors(file->tensors, file->metadata);
  if (!again_bytes.ok()) std::abort();
  auto again = vrepo::train::ParseSafetensors(*again_bytes, "again");
  if (!again.ok() || again->metadata != file->metadata ||
      again->tensors.size() != file->tensors.size()) {
    std::abort();
  }
  for (const auto& [name, tensor] : file->tensors) {
    auto it = again->tensors.find(name);
    if (it == again->tensors.end() || !SameTensor(tensor, it->second)) std::abort();
  }
  return 0;
}
