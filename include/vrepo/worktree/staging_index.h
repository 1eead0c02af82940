// The staging index: one IndexDb key per tracked file ('s' + path) holding its content id,
// size, executable bit and a stat cache, plus a timestamp of the last index write for the
// racy-git rule. Internal to the worktree layer. Plain data and free functions; thread-safe
// as IndexDb is.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/store/content_id.h"
#include "vrepo/store/index_batch.h"
#include "vrepo/store/index_db.h"
#include "vrepo/util/status.h"

namespace vrepo {

// What lstat says about a file, as far as the stat cache cares.
struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t ino = 0;
  uint64_t dev = 0;
  bool executable = false;
};

FileStat FileStatFrom(const struct stat& st);

struct StagingEntry {
  std::string path;  // relative to the root, '/'-separated
  ContentId id;
  uint64_t size = 0;  // content size (also the stat cache's size)
  bool executable = false;
  // Not checked out: a lazy clone's file whose contents were never fetched (docs/remote.md,
  // "Lazy clones"). While the file is missing from disk it counts as unchanged, not deleted.
  bool absent = false;
  int64_t mtime_ns = 0;  // stat cache; 0 = unknown, always re-hash
  int64_t ctime_ns = 0;
  uint64_t ino = 0;
  uint64_t dev = 0;

  FileEntry ToFileEntry() const { return FileEntry{path, id, size, executable}; }
  void SetStat(const FileStat& st);
  // True when `st` shows the file as it was when hashed. Like git, st_dev is not compared
  // (it changes across remounts and on network file systems).
  bool StatMatches(const FileStat& st) const;
  // The racy-git rule: a file modified in the same clock tick as the index write could
  // have changed after it was hashed without changing its mtime, so it must be re-hashed.
  bool IsRacy(int64_t index_time_ns) const { return mtime_ns == 0 || mtime_ns >= index_time_ns; }
};

// Value encoding, format 1 (74 bytes): u8 version=1, 32 raw id bytes, u64 size, u8 flags
// (bit 0 executable, bit 1 absent), i64 mtime_ns, i64 ctime_ns, u64 ino, u64 dev; integers
// little-endian.
std::string EncodeStagingValue(const StagingEntry& e);
Status DecodeStagingValue(std::string_view value, StagingEntry* e);
std::string StagingKey(std::string_view path);
// The meta key holding the time (ns, file-system clock) of the last staging index write.
std::string StagingTimeKey();

struct StagingIndex {
  std::vector<StagingEntry> entries;  // sorted by path (byte order)
  int64_t written_ns = 0;             // racy-git reference time
  std::string tree;                   // the tree the entries equal, or "" when unknown
};

// Loads the whole staging index.
Result<StagingIndex> LoadStaging(const IndexDb& db);
// Items (sorted by path, each with a `path` member) whose path is `prefix` itself or lies
// under folder `prefix` ("" = all): returns [begin, end) indices.
template <class T>
std::pair<size_t, size_t> RangeUnder(const std::vector<T>& sorted, const std::string& prefix);
std::pair<size_t, size_t> EntriesUnder(const std::vector<StagingEntry>& entries,
                                       const std::string& prefix);
// Finds `path` in sorted entries; nullptr when absent.
const StagingEntry* FindEntry(const std::vector<StagingEntry>& entries, std::string_view path);

// The meta key naming the git tree (40 hex digits) that the staging index equals, when
// known: written by commit and checkout, dropped by every other index write. It lets status
// skip reading HEAD's tree when the index has not changed since.
std::string IndexTreeKey();

// Every write of staging entries goes through this: stamps the index write time (touching
// `stamp_file` and taking its mtime, so the time comes from the clock and granularity that
// stamp working-tree files, as git does with the index file's own mtime) and drops the
// index-tree key. Adds both to `batch`.
Status PutStagingTime(const std::string& stamp_file, IndexBatch* batch);

// True when `path` equals `prefix` or lies under folder `prefix` ("" contains everything).
bool PathUnder(std::string_view path, std::string_view prefix);

template <class T>
std::pair<size_t, size_t> RangeUnder(const std::vector<T>& sorted, const std::string& prefix) {
  if (prefix.empty()) return {0, sorted.size()};
  auto less = [](const T& e, std::string_view p) { return std::string_view(e.path) < p; };
  auto exact = std::lower_bound(sorted.begin(), sorted.end(), std::string_view(prefix), less);
  if (exact != sorted.end() && exact->path == prefix) {
    size_t i = size_t(exact - sorted.begin());
    return {i, i + 1};
  }
  // "a.txt" and "a-b" sort between "a" and "a/...", so the folder range is found on its own;
  // '0' is the byte after '/'.
  std::string folder = prefix + "/";
  std::string folder_end = prefix + "0";
  auto b = std::lower_bound(sorted.begin(), sorted.end(), std::string_view(folder), less);
  auto e = std::lower_bound(b, sorted.end(), std::string_view(folder_end), less);
  return {size_t(b - sorted.begin()), size_t(e - sorted.begin())};
}

}  // namespace vrepo
