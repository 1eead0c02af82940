#include "vrepo/store/chunker.h"

#include <algorithm>
#include <array>
#include <bit>

namespace vrepo {

namespace {

// The gear table is part of the chunk format: changing it changes every cut point, so it is
// generated from a fixed seed (splitmix64) at compile time, never from a runtime source.
constexpr std::array<uint64_t, 256> MakeGearTable() {
  std::array<uint64_t, 256> table{};
  uint64_t state = 0x7672'6570'6f43'4443ull;  // "vrepoCDC"
  for (auto& entry : table) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    entry = z ^ (z >> 31);
  }
  return table;
}

constexpr std::array<uint64_t, 256> kGear = MakeGearTable();

// A mask of the `bits` highest bits: the gear hash's high bits mix the last 64 bytes.
constexpr uint64_t TopBits(int bits) {
  bits = std::clamp(bits, 1, 63);
  return ~0ull << (64 - bits);
}

}  // namespace

size_t NextChunkLength(std::string_view data, const ChunkerOptions& options) {
  const size_t min_size = std::max<size_t>(options.min_size, 64);
  const size_t max_size = std::max(options.max_size, min_size);
  const size_t avg_size = std::clamp(options.avg_size, min_size, max_size);
  const size_t n = data.size();
  if (n <= min_size) return n;

  // Normalized chunking (FastCDC): a harder mask before the average size and an easier one
  // after it pull chunk sizes towards the average.
  const int bits = std::bit_width(avg_size) - 1;
  const uint64_t mask_hard = TopBits(bits + 2);
  const uint64_t mask_easy = TopBits(bits - 2);
  const size_t normal = std::min(avg_size, n);
  const size_t end = std::min(max_size, n);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());

  // Bytes before min_size can never hold a cut, so hashing starts there.
  uint64_t hash = 0;
  size_t i = min_size;
  for (; i < normal; ++i) {
    hash = (hash << 1) + kGear[p[i]];
    if ((hash & mask_hard) == 0) return i + 1;
  }
  for (; i < end; ++i) {
    hash = (hash << 1) + kGear[p[i]];
    if ((hash & mask_easy) == 0) return i + 1;
  }
  return end;
}

std::vector<size_t> ChunkLengths(std::string_view data, const ChunkerOptions& options) {
  std::vector<size_t> lengths;
  while (!data.empty()) {
    size_t len = NextChunkLength(data, options);
    lengths.push_back(len);
    data.remove_prefix(len);
  }
  return lengths;
}

}  // namespace vrepo
