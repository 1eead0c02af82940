#include "vrepo/store/object_store.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "store_test_util.h"
#include "testing.h"
#include "vrepo/util/file.h"

namespace vrepo {

using store_test::OpenStore;
using store_test::PackFiles;

TEST_CASE("objects round-trip: empty, small, compressible (zstd) and incompressible (raw)") {
  testing::TempDir dir;
  auto store = OpenStore(dir / ".vrepo");
  std::string compressible;
  for (int i = 0; i < 20000; ++i) compressible += "img" + std::to_string(i % 100) + ",cat\n";
  std::string random = testing::RandomBytes(100000, 1);
  std::vector<std::string> objects = {"", "hello", compressible, random};
  std::vector<ContentId> ids;
  {
    auto w = store->NewWriter();
    REQUIRE(w.ok());
    for (const auto& o : objects) {
      auto id = (*w)->Put(o);
      REQUIRE(id.ok());
      CHECK(*id == ContentId::Of(o));
      ids.push_back(*id);
    }
    REQUIRE((*w)->Commit(nullptr).ok());
  }
  for (size_t i = 0; i < objects.size(); ++i) {
    auto got = store->Get(ids[i]);
    REQUIRE(got.ok());
    CHECK(*got == objects[i]);
  }
  auto zloc = store->Locate(ids[2]);
  REQUIRE(zloc.ok());
  CHECK(zloc->codec == ObjectLocation::Codec::kZstd);
  CHECK(zloc->stored_size < compressible.size() / 10);
  auto rloc = store->Locate(ids[3]);
  REQUIRE(rloc.ok());
  CHECK(rloc->codec == ObjectLocation::Codec::kRaw);
  CHECK(rloc->stored_size == random.size());
  CHECK(*store->PackBytes() < random.size() + compressible.size() / 10 + 1000);

  auto missing = store->Get(ContentId::Of("never stored"));
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK(missing.status().message().find(ContentId::Of("never stored").Hex()) != std::string::npos);
}

TEST_CASE("PNG and JPEG bytes are stored raw without a zstd attempt, and read back") {
  testing::TempDir dir;
  auto store = OpenStore(dir / ".vrepo");
  // Compressible bodies behind the magic numbers: only the format decides.
  std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(50000, 'a');
  std::string jpeg = std::string("\xff\xd8\xff\xe0", 4) + std::string(50000, 'b');
  std::string text = "PNG is not at the start\n" + std::string(50000, 'c');
  std::vector<ContentId> ids;
  {
    auto w = store->NewWriter();
    REQUIRE(w.ok());
    for (const auto& o : {png, jpeg, text}) ids.push_back(*(*w)->Put(o));
    REQUIRE((*w)->Commit(nullptr).ok());
  }
  CHECK(store->Locate(ids[0])->codec == ObjectLocation::Codec::kRaw);
  CHECK(store->Locate(ids[1])->codec == ObjectLocation::Codec::kRaw);
  CHECK(store->Locate(ids[2])->codec == ObjectLocation::Codec::kZstd);
  CHECK(*store->Get(ids[0]) == png);
  CHECK(*store->Get(ids[1]) == jpeg);
  CHECK_FALSE(IsCompressedFormat(""));
  CHECK_FALSE(IsCompressedFormat("\x89PN"));
}

TEST_CASE("identical bytes are stored once, within and across sessions") {
  testing::TempDir dir;
  auto store = OpenStore(dir / ".vrepo");
  std::string data = testing::RandomBytes(50000, 2);
  {
    auto w = store_test::NewWriter(*store);
    REQUIRE(w->Put(data).ok());
    REQUIRE(w->Put(data).ok());
    REQUIRE(w->Commit(nullptr).ok());
  }
  uint64_t bytes = *store->PackBytes();
  CHECK(bytes < data.size() + 200);
  {
    auto w = store_test::NewWriter(*store);
    REQUIRE(w->Put(data).ok());
    REQUIRE(w->Commit(nullptr).ok());
  }
  CHECK(*store->PackBytes() == bytes);
  CHECK(PackFiles(dir / ".vrepo").size() == 1);  // a session that added nothing leaves no pack
}

TEST_CASE("objects become visible only when the session commits, with the caller's keys") {
  testing::TempDir dir;
  auto store = OpenStore(dir / ".vrepo");
  auto reader_before = ObjectStore::Open(dir / ".vrepo", /*read_only=*/true);
  REQUIRE(reader_before.ok());
  auto w = store_test::NewWriter(*store);
  auto id = *w->Put("pending");
  CHECK_FALSE(store->Contains(id));
  {
    auto reader_during = ObjectStore::Open(dir / ".vrepo", true);
    REQUIRE(reader_during.ok());
    CHECK_FALSE((*reader_during)->Contains(id));
  }
  IndexBatch extra;
  extra.Put("mcaller-key", "caller-value");
  REQUIRE(w->Commit(&extra).ok());
  CHECK(w->Put("after commit").status().code() == Status::Code::kInvalidArgument);
  CHECK(store->Contains(id));
  CHECK(*store->index().Get("mcaller-key") == "caller-value");
  // A reader sees the state as of its open: never a half-committed session.
  CHECK_FALSE((*reader_before)->Contains(id));
  auto reader_after = ObjectStore::Open(dir / ".vrepo", true);
  REQUIRE(reader_after.ok());
  CHECK(*(*reader_after)->Get(id) == "pending");
  CHECK_FALSE((*reader_after)->NewWriter().ok());
}

TEST_CASE("a writer dropped without Commit leaves nothing visible and no pack file") {
  testing::TempDir dir;
  auto store = OpenStore(dir / ".vrepo");
  ContentId id;
  {
    auto w = store_test::NewWriter(*store);
    id = *w->Put(testing::RandomBytes(3 << 20, 5));
    CHECK(PackFiles(dir / ".vrepo").size() == 1);
  }
  CHECK_FALSE(store->Contains(id));
  CHECK(PackFiles(dir / ".vrepo").empty());
  CHECK(*store->PackBytes() == 0);
}

TEST_CASE("Put and WriteTo are safe and correct from many threads") {
  testing::TempDir dir;
  auto store = OpenStore(dir / ".vrepo");
  const int kThreads = 8, kPerThread = 500;
  auto object = [](int t, int i) {
    // Some duplicates across threads, some compressible, some not.
    int k = (t * kPerThread + i) % 3000;
    return k % 2 ? testing::RandomBytes(100 + k, k) : std::string(100 + k, 'a' + k % 26);
  };
  {
    auto w = store_test::NewWriter(*store);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) REQUIRE(w->Put(object(t, i)).ok());
      });
    }
    for (auto& th : threads) th.join();
    REQUIRE(w->Commit(nullptr).ok());
  }
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string path = dir / ("out" + std::to_string(t));
      for (int i = 0; i < kPerThread; ++i) {
        std::string want = object(t, i);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!store->WriteTo(ContentId::Of(want), fd, path).ok()) ++bad;
        ::close(fd);
        if (testing::ReadFileOrDie(path) != want) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad.load() == 0);
  auto problems = store->Fsck();
  REQUIRE(problems.ok());
  CHECK(problems->empty());
}

TEST_CASE("PutFile stores small files whole and large files as chunks") {
  testing::TempDir dir;
  StoreOptions options;
  options.chunk_threshold = 1 << 20;
  auto store = OpenStore(dir / ".vrepo", options);
  std::string small = testing::RandomBytes(1000, 1), large = testing::RandomBytes(5 << 20, 2);
  testing::WriteFile(dir / "small", small);
  testing::WriteFile(dir / "large", large);
  testing::WriteFile(dir / "empty", "");
  auto w = store_test::NewWriter(*store);
  auto s = w->PutFile(dir / "small");
  auto l = w->PutFile(dir / "large");
  auto e = w->PutFile(dir / "empty");
  REQUIRE(s.ok());
  REQUIRE(l.ok());
  REQUIRE(e.ok());
  CHECK(s->first == ContentId::Of(small));
  CHECK(s->second == small.size());
  CHECK(l->first == ContentId::Of(large));
  CHECK(l->second == large.size());
  CHECK(e->first == ContentId::Of(""));
  CHECK(w->PutFile(dir / "absent").status().code() == Status::Code::kNotFound);
  REQUIRE(w->Commit(nullptr).ok());
  auto loc = store->Locate(l->first);
  REQUIRE(loc.ok());
  CHECK(loc->codec == ObjectLocation::Codec::kChunked);
  CHECK(loc->raw_size == large.size());
  CHECK(*store->Get(l->first) == large);
  CHECK(*store->Get(s->first) == small);
}

TEST_CASE("a 1-byte edit in a 200 MB file costs well under 1 MB of new store bytes") {
  testing::TempDir dir;
  auto store = OpenStore(dir / ".vrepo");
  const size_t kSize = 200 << 20;
  std::string data = testing::RandomBytes(kSize, 11);
  testing::WriteFile(dir / "big", data);
  ContentId v1, v2;
  {
    auto w = store_test::NewWriter(*store);
    auto r = w->PutFile(dir / "big");
    REQUIRE(r.ok());
    v1 = r->first;
    REQUIRE(w->Commit(nullptr).ok());
  }
  uint64_t packs_before = *store->PackBytes();
  uint64_t dir_before = store_test::TreeBytes(dir / ".vrepo");
  data[kSize / 2] ^= 0x5a;
  testing::WriteFile(dir / "big", data);
  {
    auto w = store_test::NewWriter(*store);
    auto r = w->PutFile(dir / "big");
    REQUIRE(r.ok());
    v2 = r->first;
    REQUIRE(w->Commit(nullptr).ok());
  }
  CHECK(v2 != v1);
  uint64_t pack_growth = *store->PackBytes() - packs_before;
  uint64_t dir_growth = store_test::TreeBytes(dir / ".vrepo") - dir_before;
  MESSAGE("pack growth " << pack_growth << " bytes, .vrepo growth " << dir_growth << " bytes");
  CHECK(pack_growth < (1 << 20));
  CHECK(dir_growth < (1 << 20));

  for (auto [id, name] : {std::pair{v1, "v1"}, std::pair{v2, "v2"}}) {
    std::string path = dir / name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(store->WriteTo(id, fd, path).ok());
    ::close(fd);
  }
  CHECK(*ReadFile(dir / "v2") == data);
  data[kSize / 2] ^= 0x5a;
  CHECK(*ReadFile(dir / "v1") == data);
}

}  // namespace vrepo
