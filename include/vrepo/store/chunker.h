// Content-defined chunking (FastCDC with a gear hash): cut points depend only on nearby
// bytes, so an edit moves at most the chunks around it. Stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace vrepo {

struct ChunkerOptions {
  size_t min_size = 32 << 10;
  size_t avg_size = 128 << 10;  // a 1-byte edit costs about one chunk of new store bytes
  size_t max_size = 512 << 10;
};

// Returns the length of the first chunk of `data` (all of it when shorter than min_size,
// or when no cut point falls before max_size).
size_t NextChunkLength(std::string_view data, const ChunkerOptions& options = {});

// Splits `data` into chunk lengths that sum to data.size().
std::vector<size_t> ChunkLengths(std::string_view data, const ChunkerOptions& options = {});

}  // namespace vrepo
