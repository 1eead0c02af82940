#include "vrepo/store/index_db.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "testing.h"

namespace vrepo {

// The engine behind an IndexDb, for tests that make RocksDB flush and compact on demand.
struct IndexDbTestPeer {
  static rocksdb::DB* Db(IndexDb& db) { return db.db_.get(); }
};

TEST_CASE("the index stores batches atomically and scans a prefix in key order") {
  testing::TempDir dir;
  auto db = IndexDb::Open(dir / "index", /*read_only=*/false, /*create=*/true);
  REQUIRE(db.ok());
  IndexBatch batch;
  batch.Put("sb", "2");
  batch.Put("sa", "1");
  batch.Put("sc", "3");
  batch.Put("t", "other prefix");
  REQUIRE((*db)->Write(&batch, /*sync=*/true).ok());
  CHECK(*(*db)->Get("sa") == "1");
  CHECK((*db)->Get("zz").status().code() == Status::Code::kNotFound);

  std::vector<std::string> keys;
  REQUIRE((*db)
              ->ScanPrefix("s",
                           [&](std::string_view k, std::string_view) {
                             keys.emplace_back(k);
                             return true;
                           })
              .ok());
  CHECK(keys == std::vector<std::string>{"sa", "sb", "sc"});
  keys.clear();
  REQUIRE((*db)
              ->ScanPrefix("s",
                           [&](std::string_view k, std::string_view) {
                             keys.emplace_back(k);
                             return false;
                           })
              .ok());
  CHECK(keys.size() == 1);
}

TEST_CASE("readers open while the writer holds the index, a second writer is told it is locked") {
  testing::TempDir dir;
  auto writer = IndexDb::Open(dir / "index", false, true);
  REQUIRE(writer.ok());
  IndexBatch batch;
  batch.Put("mkey", "value");
  REQUIRE((*writer)->Write(&batch, true).ok());

  auto reader = IndexDb::Open(dir / "index", /*read_only=*/true);
  REQUIRE(reader.ok());
  CHECK(*(*reader)->Get("mkey") == "value");
  CHECK((*reader)->read_only());
  IndexBatch more;
  more.Put("mother", "x");
  CHECK((*reader)->Write(&more, false).code() == Status::Code::kInvalidArgument);

  auto second = IndexDb::Open(dir / "index", false);
  CHECK(second.status().code() == Status::Code::kLocked);
  CHECK(IndexDb::Open(dir / "absent", true).status().code() == Status::Code::kNotFound);
}

TEST_CASE("readers open the index while the writer flushes and compacts away table files") {
  testing::TempDir dir;
  auto writer = IndexDb::Open(dir / "index", /*read_only=*/false, /*create=*/true);
  REQUIRE(writer.ok());
  std::atomic<bool> done{false};
  std::thread churn([&] {
    // Each round leaves new table files and deletes the ones it compacted.
    for (int round = 0; round < 150; ++round) {
      IndexBatch batch;
      for (int k = 0; k < 200; ++k) {
        batch.Put("o" + std::to_string(round * 200 + k), std::string(100, 'x'));
      }
      REQUIRE((*writer)->Write(&batch, /*sync=*/false).ok());
      IndexDbTestPeer::Db(**writer)->Flush(rocksdb::FlushOptions());
      if (round % 3 == 2) {
        IndexDbTestPeer::Db(**writer)->CompactRange(rocksdb::CompactRangeOptions(), nullptr,
                                                    nullptr);
      }
    }
    done = true;
  });
  int opens = 0;
  std::string first_error;
  while (!done) {
    auto reader = IndexDb::Open(dir / "index", /*read_only=*/true);
    ++opens;
    if (!reader.ok() && first_error.empty()) first_error = reader.status().message();
  }
  churn.join();
  INFO("read-only opens during the churn: " << opens);
  CHECK(first_error == "");
}

}  // namespace vrepo

namespace vrepo {

TEST_CASE("a missing or damaged index is an error, never replaced by an empty one") {
  testing::TempDir dir;
  {
    auto db = IndexDb::Open(dir / "index", false, true);
    REQUIRE(db.ok());
    IndexBatch batch;
    batch.Put("o1", "location");
    REQUIRE((*db)->Write(&batch, true).ok());
  }
  CHECK(IndexDb::Open(dir / "absent", false).status().code() == Status::Code::kCorruption);
  CHECK_FALSE(testing::Exists(dir / "absent"));
  // Damaged: the file naming the current manifest is gone, as after a bad copy.
  REQUIRE(::unlink((dir / "index/CURRENT").c_str()) == 0);
  auto damaged = IndexDb::Open(dir / "index", false);
  REQUIRE_FALSE(damaged.ok());
  CHECK(damaged.status().code() == Status::Code::kCorruption);
  CHECK(damaged.status().message().find("missing or damaged, and was left as it is") !=
        std::string::npos);
  CHECK_FALSE(testing::Exists(dir / "index/CURRENT"));  // nothing new was made
}

}  // namespace vrepo
