// Little-endian integers in byte buffers: the byte order of every binary format vrepo writes
// (pack records, the staging index, object batches), whatever the machine's own order.
#pragma once

#include <cstdint>
#include <string>

namespace vrepo {

inline void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
inline void AppendU32(std::string* out, uint32_t v) {
  char buf[4];
  PutU32(buf, v);
  out->append(buf, 4);
}
inline void AppendU64(std::string* out, uint64_t v) {
  char buf[8];
  PutU64(buf, v);
  out->append(buf, 8);
}

}  // namespace vrepo
