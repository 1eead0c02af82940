// Damage to pack files: fsck names what is broken, reads fail cleanly, torn tails are harmless.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <random>

#include "store_test_util.h"
#include "testing.h"
#include "vrepo/store/object_store.h"

namespace vrepo {

namespace {

// Byte layout of a pack record header (docs/formats.md), duplicated here on purpose so
// that a change to the format breaks this test.
constexpr uint64_t kRecordHeaderSize = 61;
constexpr uint64_t kStoredSizeField = 45;
constexpr uint64_t kRawSizeField = 37;
constexpr uint64_t kHeaderCrcField = 57;

void PatchFile(const std::string& path, uint64_t offset, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
          static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::string ReadAt(const std::string& path, uint64_t offset, size_t n) {
  std::string all = testing::ReadFileOrDie(path);
  return all.substr(offset, n);
}

std::string U64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// Rewrites the header checksum so that a patched header passes it and deeper checks run.
void FixHeaderCrc(const std::string& path, uint64_t record) {
  std::string h = ReadAt(path, record, kHeaderCrcField);
  uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(h.data()), 57));
  std::string c(4, '\0');
  for (int i = 0; i < 4; ++i) c[i] = static_cast<char>(crc >> (8 * i));
  PatchFile(path, record + kHeaderCrcField, c);
}

struct Fixture {
  testing::TempDir dir;
  std::string vrepo = dir / ".vrepo";
  std::vector<std::string> objects;
  std::vector<ContentId> ids;
  std::string pack;

  Fixture() {
    auto store = store_test::OpenStore(vrepo);
    auto w = store_test::NewWriter(*store);
    std::string text;
    for (int i = 0; i < 3000; ++i) text += "row" + std::to_string(i % 50) + "\n";
    objects = {testing::RandomBytes(5000, 1), text, testing::RandomBytes(7000, 2), "tiny"};
    for (const auto& o : objects) ids.push_back(*w->Put(o));
    REQUIRE(w->Commit(nullptr).ok());
    pack = store_test::PackFiles(vrepo).at(0);
  }
  std::unique_ptr<ObjectStore> Open() {
    auto s = ObjectStore::Open(vrepo, /*read_only=*/true);
    REQUIRE(s.ok());
    return std::move(s).value();
  }
};

}  // namespace

TEST_CASE("a corrupt pack byte: fsck names the object and pack file, Get returns Corruption") {
  Fixture f;
  auto store = f.Open();
  ObjectLocation loc = *store->Locate(f.ids[0]);
  uint64_t at = loc.offset + kRecordHeaderSize + 100;
  std::string byte = ReadAt(f.pack, at, 1);
  byte[0] ^= 1;
  PatchFile(f.pack, at, byte);

  auto got = store->Get(f.ids[0]);
  CHECK(got.status().code() == Status::Code::kCorruption);
  CHECK(got.status().message().find(f.ids[0].Hex()) != std::string::npos);
  CHECK(got.status().message().find(f.pack) != std::string::npos);
  CHECK(*store->Get(f.ids[1]) == f.objects[1]);  // neighbours are unaffected

  auto problems = store->Fsck();
  REQUIRE(problems.ok());
  REQUIRE(problems->size() == 1);
  CHECK((*problems)[0].object == f.ids[0].Hex());
  CHECK((*problems)[0].pack == f.pack);
  CHECK((*problems)[0].message.find("offset " + std::to_string(loc.offset)) != std::string::npos);
  CHECK((*problems)[0].message.find("checksum") != std::string::npos);
}

TEST_CASE("a corrupt compressed object is reported, not decompressed into garbage") {
  Fixture f;
  auto store = f.Open();
  ObjectLocation loc = *store->Locate(f.ids[1]);
  REQUIRE(loc.codec == ObjectLocation::Codec::kZstd);
  uint64_t at = loc.offset + kRecordHeaderSize + loc.stored_size / 2;
  std::string byte = ReadAt(f.pack, at, 1);
  byte[0] ^= 0x40;
  PatchFile(f.pack, at, byte);
  CHECK(store->Get(f.ids[1]).status().code() == Status::Code::kCorruption);
  auto problems = *store->Fsck();
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].object == f.ids[1].Hex());
}

TEST_CASE("junk after the last record (a killed writer's torn tail) is not an error") {
  Fixture f;
  int fd = ::open(f.pack.c_str(), O_WRONLY | O_APPEND);
  std::string junk = "VRec" + testing::RandomBytes(300, 9);
  REQUIRE(::write(fd, junk.data(), junk.size()) == static_cast<ssize_t>(junk.size()));
  ::close(fd);
  // An orphan pack no index entry names is not an error either.
  testing::WriteFile(f.vrepo + "/objects/packs/pack-00000077.vpk", "VRPKtorn");
  auto store = f.Open();
  auto problems = store->Fsck();
  REQUIRE(problems.ok());
  CHECK(problems->empty());
  for (size_t i = 0; i < f.ids.size(); ++i) CHECK(*store->Get(f.ids[i]) == f.objects[i]);
}

TEST_CASE("a missing pack file is reported once, naming the file") {
  Fixture f;
  REQUIRE(::unlink(f.pack.c_str()) == 0);
  auto store = f.Open();
  auto problems = *store->Fsck();
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].pack == f.pack);
  CHECK(problems[0].message.find("cannot open") != std::string::npos);
  auto got = store->Get(f.ids[0]);
  CHECK(got.status().code() == Status::Code::kCorruption);
  CHECK(got.status().message().find(f.pack) != std::string::npos);
}

TEST_CASE("record headers with impossible fields are Corruption, never a crash") {
  Fixture f;
  const std::string pristine = testing::ReadFileOrDie(f.pack);
  std::vector<ObjectLocation> locs;
  {
    auto store = f.Open();
    for (const auto& id : f.ids) locs.push_back(*store->Locate(id));
  }
  auto restore = [&] { testing::WriteFile(f.pack, pristine); };

  SUBCASE("stored size larger than the file, with a valid header checksum") {
    PatchFile(f.pack, locs[0].offset + kStoredSizeField, U64(uint64_t{1} << 40));
    FixHeaderCrc(f.pack, locs[0].offset);
    auto store = f.Open();
    auto got = store->Get(f.ids[0]);
    CHECK(got.status().code() == Status::Code::kCorruption);
    CHECK(got.status().message().find("past the end") != std::string::npos);
    CHECK(store->Fsck()->size() == 1);
  }
  SUBCASE("huge raw size on a compressed record, agreeing header and checksum") {
    PatchFile(f.pack, locs[1].offset + kRawSizeField, U64(~uint64_t{0}));
    FixHeaderCrc(f.pack, locs[1].offset);
    auto store = f.Open();
    CHECK(store->Get(f.ids[1]).status().code() == Status::Code::kCorruption);
  }
  SUBCASE("a pack cut short in the middle of a record") {
    REQUIRE(::truncate(f.pack.c_str(), static_cast<off_t>(locs[2].offset + 30)) == 0);
    auto store = f.Open();
    CHECK(store->Get(f.ids[2]).status().code() == Status::Code::kCorruption);
    CHECK(*store->Get(f.ids[0]) == f.objects[0]);
    CHECK(store->Fsck()->size() == 2);  // the cut record and the one after it
  }
  SUBCASE("random damage anywhere in the pack") {
    std::mt19937_64 rng(42);
    for (int round = 0; round < 200; ++round) {
      restore();
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
        // Mostly headers, where the parser is most exposed.
        const ObjectLocation& loc = locs[rng() % locs.size()];
        uint64_t at = rng() % 2 ? loc.offset + rng() % kRecordHeaderSize : rng() % pristine.size();
        PatchFile(f.pack, at, std::string(1, static_cast<char>(rng())));
      }
      auto store = f.Open();
      for (size_t i = 0; i < f.ids.size(); ++i) {
        auto got = store->Get(f.ids[i]);
        if (got.ok()) {
          CHECK(*got == f.objects[i]);
        } else {
          CHECK(got.status().code() == Status::Code::kCorruption);
        }
      }
      CHECK(store->Fsck().ok());
    }
  }
  SUBCASE("an index entry that points nowhere") {
    auto store = store_test::OpenStore(f.vrepo);
    IndexBatch batch;
    ContentId fake = ContentId::Of("fake");
    std::string value(30, '\0');
    value[0] = 1;                                    // version
    value[2] = 1;                                    // pack 1
    value.replace(6, 8, U64(pristine.size() - 10));  // offset near the end of the file
    value.replace(22, 8, U64(5));                    // raw size
    batch.Put(std::string(1, 'o') + std::string(fake.Raw()), value);
    batch.Put(std::string(1, 'o') + std::string(ContentId::Of("bad").Raw()), "garbage");
    REQUIRE(store->index().Write(&batch, true).ok());
    CHECK(store->Get(fake).status().code() == Status::Code::kCorruption);
    CHECK(store->Get(ContentId::Of("bad")).status().code() == Status::Code::kCorruption);
    auto problems = *store->Fsck();
    CHECK(problems.size() == 2);
  }
}

}  // namespace vrepo

namespace vrepo {

TEST_CASE("RebuildIndex indexes every sound record from the packs and moves the old index aside") {
  Fixture f;
  {
    // A second pack, so the scan spans files; one object is in both (as after a torn gc).
    auto store = store_test::OpenStore(f.vrepo);
    auto w = store_test::NewWriter(*store);
    REQUIRE(w->Put("second pack").ok());
    REQUIRE(w->Commit(nullptr).ok());
  }
  // The index loses its manifest pointer: it no longer opens.
  REQUIRE(::unlink((f.vrepo + "/index/CURRENT").c_str()) == 0);
  CHECK(ObjectStore::Open(f.vrepo, true).status().code() == Status::Code::kCorruption);

  auto report = ObjectStore::RebuildIndex(f.vrepo);
  REQUIRE(report.ok());
  CHECK(report->packs == 2);
  CHECK(report->objects == f.objects.size() + 1);
  CHECK(report->problems.empty());
  CHECK(report->old_index == f.vrepo + "/index.damaged");
  CHECK(testing::Exists(f.vrepo + "/index.damaged"));
  auto store = f.Open();
  for (size_t i = 0; i < f.ids.size(); ++i) CHECK(*store->Get(f.ids[i]) == f.objects[i]);
  CHECK(*store->Get(ContentId::Of("second pack")) == "second pack");
  CHECK(store->Fsck()->empty());
}

TEST_CASE("RebuildIndex stops a pack's scan at a damaged record and says where") {
  Fixture f;
  ObjectLocation loc = *f.Open()->Locate(f.ids[2]);
  std::string byte = ReadAt(f.pack, loc.offset + kRecordHeaderSize + 10, 1);
  byte[0] ^= 1;
  PatchFile(f.pack, loc.offset + kRecordHeaderSize + 10, byte);
  auto report = ObjectStore::RebuildIndex(f.vrepo);
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].find(f.pack + " at offset " + std::to_string(loc.offset)) !=
        std::string::npos);
  CHECK(report->problems[0].find("were not indexed") != std::string::npos);
  auto store = f.Open();
  // Records before the damaged one are back; it and those after it are not.
  for (size_t i = 0; i < f.ids.size(); ++i) CHECK(store->Contains(f.ids[i]) == (i < 2));
}

}  // namespace vrepo
