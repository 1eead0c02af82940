#include "vrepo/store/index_db.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "vrepo/util/file.h"

namespace vrepo {

namespace {

// How often a reader retries an open that raced with the writer's compaction.
constexpr int kReadOnlyOpenAttempts = 50;

rocksdb::Options MakeOptions(bool read_only, bool create) {
  rocksdb::Options options;
  options.create_if_missing = create && !read_only;
  // Bulk adds of a million objects: a large memtable means few flushes during the load.
  options.write_buffer_size = 64 << 20;
  options.max_write_buffer_number = 3;
  // Background threads start with the option; a reader never flushes or compacts.
  if (!read_only) options.IncreaseParallelism(2);
  // Keys are mostly random content ids: compression gains nothing worth its CPU.
  options.compression = rocksdb::kNoCompression;
  // Small repositories should not reserve megabytes on disk up front.
  options.manifest_preallocation_size = 64 << 10;
  options.keep_log_file_num = 2;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Dataset commands look up a million random ids: through pread each lookup copied a 16 KiB
  // block out of the page cache (14% of `dataset stats` on 1M samples); mapped files don't.
  options.allow_mmap_reads = true;
  // Opening holds a handful of table files; the default 16 opener threads (started again for
  // the fallback of a read-only open) made thread creation a third of a read-only open.
  options.max_file_opening_threads = 1;
  // With the default (-1, keep every table file open), a read-only open first tries RocksDB's
  // "compacted DB" reader, which only fits a fully compacted index, and on failure reads the
  // manifest and opens every table file a second time. Any finite limit skips that attempt.
  options.max_open_files = 1 << 14;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.block_size = 16 << 10;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsNoSpace()) return Status::NoSpace(what + ": " + s.ToString());
  if (s.IsBusy() || s.IsTimedOut()) return Status::Locked(what + ": " + s.ToString());
  if (s.IsIOError() && s.ToString().find("No space left") != std::string::npos) {
    return Status::NoSpace(what + ": " + s.ToString());
  }
  return Status::IOError(what + ": " + s.ToString());
}

}  // namespace

IndexDb::IndexDb(std::unique_ptr<rocksdb::DB> db, std::string dir, bool read_only)
    : db_(std::move(db)), dir_(std::move(dir)), read_only_(read_only) {}

IndexDb::~IndexDb() {
  // Leaving the writes in the WAL would make every later open, each read-only status
  // included, replay them; one flush by the writer is cheaper than replays by every reader.
  if (!read_only_ && wrote_) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    db_->Flush(flush);  // best effort: on failure the WAL still holds the data
  }
}

Result<std::unique_ptr<IndexDb>> IndexDb::Open(const std::string& dir, bool read_only,
                                               bool create) {
  // RocksDB makes the folder before it finds no database in it: refuse first.
  if (!create && !read_only && !IsDir(dir)) {
    return Status::Corruption("opening index " + dir +
                              ": it is missing or damaged, and was left as it is (the pack "
                              "files still hold every object): the folder is missing");
  }
  rocksdb::Options options = MakeOptions(read_only, create);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (read_only) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Status::NotFound("no index at " + dir);
    // Read-only opens take no lock, so readers never wait for (or block) the writer. A writer
    // compacting meanwhile may delete a table file between our reading the manifest and
    // opening the file; the manifest read again names the files that replaced it.
    for (int attempt = 0;; ++attempt) {
      s = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
      const bool vanished = !s.ok() && s.ToString().find("No such file") != std::string::npos;
      if (!vanished || attempt == kReadOnlyOpenAttempts) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2 + attempt));
    }
  } else {
    s = rocksdb::DB::Open(options, dir, &raw);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::Locked("opening index " + dir + ": another process has it open for writing");
    }
    if (!create && (s.IsInvalidArgument() || s.IsCorruption() || s.IsPathNotFound())) {
      return Status::Corruption("opening index " + dir +
                                ": it is missing or damaged, and was left as it is (the pack "
                                "files still hold every object): " +
                                s.ToString());
    }
    return FromRocks(s, "opening index " + dir);
  }
  return std::unique_ptr<IndexDb>(new IndexDb(std::unique_ptr<rocksdb::DB>(raw), dir, read_only));
}

Result<std::string> IndexDb::Get(std::string_view key) const {
  std::string value;
  // Mapped blocks skip the block cache, so a checked read would re-verify a 16 KiB block's
  // checksum on every lookup (12% of `dataset stats` on a million samples). What a lookup
  // returns is checked anyway: pack records carry their id and a CRC, and fsck re-hashes.
  rocksdb::ReadOptions options;
  options.verify_checksums = false;
  rocksdb::Status s = db_->Get(options, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return Status::NotFound("index key not found");
  if (!s.ok()) return FromRocks(s, "reading index " + dir_);
  return value;
}

Status IndexDb::MultiGet(const std::vector<std::string>& sorted_keys,
                         std::vector<std::string>* values, std::vector<bool>* found) const {
  const size_t n = sorted_keys.size();
  std::vector<rocksdb::Slice> keys(sorted_keys.begin(), sorted_keys.end());
  std::vector<rocksdb::PinnableSlice> pinned(n);
  std::vector<rocksdb::Status> statuses(n);
  rocksdb::ReadOptions options;
  options.verify_checksums = false;  // as in Get
  db_->MultiGet(options, db_->DefaultColumnFamily(), n, keys.data(), pinned.data(), statuses.data(),
                /*sorted_input=*/true);
  values->assign(n, std::string());
  found->assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return FromRocks(statuses[i], "reading index " + dir_);
    (*values)[i].assign(pinned[i].data(), pinned[i].size());
    (*found)[i] = true;
  }
  return Status::OK();
}

Status IndexDb::Write(IndexBatch* batch, bool sync) {
  if (read_only_) return Status::InvalidArgument("index " + dir_ + " is open read-only");
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  wrote_ = true;
  return FromRocks(db_->Write(wo, batch->rep_.get()), "writing index " + dir_);
}

uint64_t IndexDb::EstimateKeyCount() const {
  uint64_t n = 0;
  if (!db_->GetIntProperty(rocksdb::DB::Properties::kEstimateNumKeys, &n)) return 0;
  return n;
}

Status IndexDb::ScanPrefix(
    std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  // Bulk scans should not push the hot point-lookup blocks out of the cache.
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    rocksdb::Slice v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  return FromRocks(it->status(), "scanning index " + dir_);
}

}  // namespace vrepo
