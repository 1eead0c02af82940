// Garbage collection and running out of disk space.
#include <doctest/doctest.h>
#include <unistd.h>

#include <set>

#include "store_test_util.h"
#include "testing.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/file.h"

namespace vrepo {

TEST_CASE("gc drops unreachable objects, keeps live ones and their chunks, removes old packs") {
  testing::TempDir dir;
  StoreOptions options;
  options.chunk_threshold = 1 << 20;
  auto store = store_test::OpenStore(dir / ".vrepo", options);
  std::string a = "keep me", b = testing::RandomBytes(20000, 1), d = "drop me too";
  std::string big = testing::RandomBytes(3 << 20, 2);
  testing::WriteFile(dir / "big", big);
  ContentId ida, idb, idbig, idd;
  {
    auto w = store_test::NewWriter(*store);
    ida = *w->Put(a);
    idb = *w->Put(b);
    idbig = w->PutFile(dir / "big")->first;
    REQUIRE(w->Commit(nullptr).ok());
  }
  {
    auto w = store_test::NewWriter(*store);
    idd = *w->Put(d);
    REQUIRE(w->Commit(nullptr).ok());
  }
  testing::WriteFile(dir / ".vrepo/objects/packs/pack-00000050.vpk", "an orphan from a crash");
  auto old_packs = store_test::PackFiles(dir / ".vrepo");
  REQUIRE(old_packs.size() == 3);
  uint64_t before = *store->PackBytes();

  std::set<ContentId> live = {ida, idbig};
  auto dropped = store->Gc([&](const ContentId& id) { return live.count(id) > 0; });
  REQUIRE(dropped.ok());
  CHECK(*dropped == 2);
  CHECK(*store->Get(ida) == a);
  CHECK(*store->Get(idbig) == big);
  CHECK_FALSE(store->Contains(idb));
  CHECK_FALSE(store->Contains(idd));
  auto packs = store_test::PackFiles(dir / ".vrepo");
  REQUIRE(packs.size() == 1);
  for (const auto& p : old_packs) CHECK_FALSE(testing::Exists(p));
  CHECK(*store->PackBytes() < before - b.size());
  CHECK(store->Fsck()->empty());

  // A reader opened afterwards sees the same, and later sessions get a fresh pack number.
  store.reset();
  auto reopened = ObjectStore::Open(dir / ".vrepo", false, options);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->Get(idbig) == big);
  auto w = store_test::NewWriter(**reopened);
  REQUIRE(w->Put("new").ok());
  REQUIRE(w->Commit(nullptr).ok());
  CHECK(store_test::PackFiles(dir / ".vrepo").size() == 2);

  // Nothing live: every pack goes.
  w.reset();
  CHECK(*(*reopened)->Gc([](const ContentId&) { return false; }) > 0);
  CHECK(store_test::PackFiles(dir / ".vrepo").empty());
  CHECK(*(*reopened)->PackBytes() == 0);
}

TEST_CASE("gc refuses to run while a write session is open or when it finds damage") {
  testing::TempDir dir;
  auto store = store_test::OpenStore(dir / ".vrepo");
  ContentId id;
  {
    auto w = store_test::NewWriter(*store);
    id = *w->Put(testing::RandomBytes(1000, 3));
    REQUIRE(w->Commit(nullptr).ok());
  }
  {
    auto w = store_test::NewWriter(*store);
    CHECK_FALSE(store->Gc([](const ContentId&) { return true; }).ok());
  }
  std::string pack = store_test::PackFiles(dir / ".vrepo").at(0);
  std::string bytes = testing::ReadFileOrDie(pack);
  bytes[bytes.size() - 10] ^= 1;
  testing::WriteFile(pack, bytes);
  auto gc = store->Gc([](const ContentId&) { return true; });
  CHECK(gc.status().code() == Status::Code::kCorruption);
  CHECK(testing::Exists(pack));  // nothing deleted on the way out
  CHECK(store_test::PackFiles(dir / ".vrepo").size() == 1);
}

TEST_CASE("a full disk fails the session with kNoSpace naming the pack, committed data survives") {
  testing::TempDir dir;
  testing::SmallDisk disk(dir / "disk", "2m");
  if (!disk.mounted()) {
    MESSAGE("skipped: cannot mount a tmpfs here (needs root)");
    return;
  }
  std::string vrepo = dir / "disk/.vrepo";
  std::string first = testing::RandomBytes(200 << 10, 1);
  ContentId first_id;
  {
    auto store = store_test::OpenStore(vrepo);
    {
      auto w = store_test::NewWriter(*store);
      first_id = *w->Put(first);
      REQUIRE(w->Commit(nullptr).ok());
    }
    auto w = store_test::NewWriter(*store);
    std::string pack = store_test::PackFiles(vrepo).back();
    Status failed;
    for (int i = 0; i < 64 && failed.ok(); ++i) {
      failed = w->Put(testing::RandomBytes(64 << 10, 100 + i)).status();
    }
    if (failed.ok()) failed = w->Commit(nullptr);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.code() == Status::Code::kNoSpace);
    CHECK(failed.message().find(pack) != std::string::npos);
    CHECK(failed.message().find("No space left on device") != std::string::npos);
    CHECK(w->Commit(nullptr).code() == Status::Code::kNoSpace);  // the session stays failed
  }
  // The failed session's pack is gone, so the space is back and old data reads fine.
  CHECK(store_test::PackFiles(vrepo).size() == 1);
  auto reopened = ObjectStore::Open(vrepo, /*read_only=*/false);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->Get(first_id) == first);
  CHECK((*reopened)->Fsck()->empty());
  auto w = store_test::NewWriter(**reopened);
  REQUIRE(w->Put("small after the failure").ok());
  CHECK(w->Commit(nullptr).ok());
}

}  // namespace vrepo

namespace vrepo {

TEST_CASE("a reader opened before gc still reads what it saw after gc deletes the old packs") {
  testing::TempDir dir;
  auto store = store_test::OpenStore(dir / ".vrepo");
  std::string keep = testing::RandomBytes(10000, 1);
  ContentId id;
  {
    auto w = store_test::NewWriter(*store);
    id = *w->Put(keep);
    REQUIRE(w->Put("garbage").ok());
    REQUIRE(w->Commit(nullptr).ok());
  }
  auto reader = ObjectStore::Open(dir / ".vrepo", /*read_only=*/true);
  REQUIRE(reader.ok());
  REQUIRE(*store->Gc([&](const ContentId& c) { return c == id; }) == 1);
  auto got = (*reader)->Get(id);
  REQUIRE(got.ok());
  CHECK(*got == keep);
}

}  // namespace vrepo
