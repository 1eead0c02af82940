// ObjectStore::GetMany: the batched read that dataset check and stats use.
#include <doctest/doctest.h>

#include <map>
#include <mutex>

#include "store_test_util.h"
#include "testing.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

TEST_CASE("GetMany delivers every object once, verified, across packs, codecs and chunking") {
  testing::TempDir dir;
  StoreOptions options;
  options.chunk_threshold = 1 << 20;
  auto store = store_test::OpenStore(dir / ".vrepo", options);
  std::vector<std::string> contents;
  for (int i = 0; i < 3000; ++i) {
    // Compressible text (zstd records) and random bytes (raw records), in two packs.
    contents.push_back(i % 2 ? std::string(500 + i, 'a' + i % 26) : testing::RandomBytes(300, i));
  }
  std::string big = testing::RandomBytes(3 << 20, 7);
  testing::WriteFile(dir / "big", big);
  std::vector<ContentId> ids;
  for (int pack = 0; pack < 2; ++pack) {
    auto w = store_test::NewWriter(*store);
    for (size_t i = pack; i < contents.size(); i += 2) ids.push_back(*w->Put(contents[i]));
    if (pack == 1) ids.push_back(w->PutFile(dir / "big")->first);
    REQUIRE(w->Commit(nullptr).ok());
  }
  std::vector<std::string> expected;
  for (int pack = 0; pack < 2; ++pack) {
    for (size_t i = pack; i < contents.size(); i += 2) expected.push_back(contents[i]);
  }
  expected.push_back(big);

  ThreadPool pool(3);
  std::mutex mu;
  std::map<size_t, std::string> got;
  REQUIRE(store
              ->GetMany(ids, pool,
                        [&](size_t i, std::string_view bytes) {
                          std::lock_guard lock(mu);
                          CHECK(got.emplace(i, std::string(bytes)).second);
                        })
              .ok());
  REQUIRE(got.size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(got[i] == expected[i]);

  SUBCASE("an id the store lacks is an error naming it") {
    std::vector<ContentId> with_missing = ids;
    ContentId absent = ContentId::Of("never stored");
    with_missing.insert(with_missing.begin() + 10, absent);
    Status st = store->GetMany(with_missing, pool, [](size_t, std::string_view) {});
    CHECK(st.code() == Status::Code::kNotFound);
    CHECK(st.message().find(absent.Hex()) != std::string::npos);
  }
  SUBCASE("no ids, no calls") {
    CHECK(store->GetMany({}, pool, [](size_t, std::string_view) { FAIL("called"); }).ok());
  }
}

}  // namespace vrepo
