#include "vrepo/store/chunker.h"

#include <doctest/doctest.h>

#include <numeric>
#include <set>

#include "testing.h"
#include "vrepo/store/content_id.h"

namespace vrepo {

namespace {

std::vector<ContentId> ChunkIds(std::string_view data, const ChunkerOptions& options = {}) {
  std::vector<ContentId> ids;
  for (size_t len : ChunkLengths(data, options)) {
    ids.push_back(ContentId::Of(data.substr(0, len)));
    data.remove_prefix(len);
  }
  return ids;
}

}  // namespace

TEST_CASE("chunks cover the data and respect the size bounds") {
  std::string data = testing::RandomBytes(16 << 20, 7);
  ChunkerOptions options;
  auto lengths = ChunkLengths(data, options);
  CHECK(std::accumulate(lengths.begin(), lengths.end(), size_t{0}) == data.size());
  for (size_t i = 0; i + 1 < lengths.size(); ++i) {
    CHECK(lengths[i] >= options.min_size);
    CHECK(lengths[i] <= options.max_size);
  }
  double average = static_cast<double>(data.size()) / static_cast<double>(lengths.size());
  CHECK(average > options.avg_size * 0.6);
  CHECK(average < options.avg_size * 1.6);

  CHECK(ChunkLengths("").empty());
  CHECK(ChunkLengths("tiny") == std::vector<size_t>{4});
}

TEST_CASE("cut points are a fixed function of the bytes (part of the store format)") {
  std::string data = testing::RandomBytes(4 << 20, 1);
  CHECK(ChunkLengths(data) == ChunkLengths(data));
  // Pinned: a different gear table or mask would silently stop dedup against old stores.
  CHECK(NextChunkLength(data) == 148601);
}

TEST_CASE("inserting bytes at the front leaves most chunks unchanged") {
  std::string data = testing::RandomBytes(16 << 20, 3);
  std::string shifted = testing::RandomBytes(1000, 4) + data;
  auto before = ChunkIds(data);
  auto after = ChunkIds(shifted);
  std::set<ContentId> old_chunks(before.begin(), before.end());
  size_t shared = 0;
  for (const ContentId& id : after) shared += old_chunks.count(id);
  CHECK(shared + 3 >= before.size());
}

TEST_CASE("data with no cut point is cut at max_size") {
  std::string zeros(2 << 20, '\0');
  ChunkerOptions options;
  auto lengths = ChunkLengths(zeros, options);
  CHECK(lengths.size() == 4);
  CHECK(lengths[0] == options.max_size);
}

}  // namespace vrepo
