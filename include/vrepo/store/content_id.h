// ContentId: the SHA-256 of an object's bytes, the name of every stored object.
// Sha256 hashes a stream incrementally (OpenSSL; SHA-NI where the CPU has it).
// Values are plain data; a Sha256 belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "vrepo/util/status.h"

namespace vrepo {

struct ContentId {
  std::array<uint8_t, 32> bytes{};

  // 64 lowercase hex digits.
  std::string Hex() const;
  // The 32 raw bytes, as used in index keys.
  std::string_view Raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  // Parses 64 hex digits; InvalidArgument otherwise.
  static Result<ContentId> FromHex(std::string_view hex);
  // Takes 32 raw bytes; Corruption when the size is wrong.
  static Result<ContentId> FromRaw(std::string_view raw);
  // The id of `data`.
  static ContentId Of(std::string_view data);

  bool operator==(const ContentId& o) const { return bytes == o.bytes; }
  bool operator!=(const ContentId& o) const { return bytes != o.bytes; }
  bool operator<(const ContentId& o) const { return bytes < o.bytes; }
};

struct ContentIdHash {
  size_t operator()(const ContentId& id) const {
    size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof(h));  // already uniformly distributed
    return h;
  }
};

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  ContentId Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vrepo
