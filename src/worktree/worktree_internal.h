// Helpers shared by the worktree operations (src/worktree only): comparing staging entries
// with the files on disk through the stat cache, and small path utilities.
// Functions run on the calling thread plus the pool they are given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"
#include "vrepo/util/thread_pool.h"
#include "vrepo/worktree/scan.h"
#include "vrepo/worktree/staging_index.h"

namespace vrepo {

// A tracked file as the working tree has it now (its path is its staging entry's: a copy per
// file would cost a million allocations on a million-file status).
struct DiskFile {
  bool present = false;   // a regular file is at the path
  bool modified = false;  // content or executable bit differs from the staging entry
  bool hashed = false;    // `id` was computed from the file just now
  bool executable = false;
  uint64_t size = 0;
  ContentId id;  // valid unless modified && !hashed
};

// Compares entries[i] with the disk for every i. Files are hashed only when their stat
// differs from the cache or is racy; with `need_ids`, a size change is hashed too (else
// it is reported modified unhashed). `scan` (sorted, may be null) supplies stats already
// taken. Hashes on `pool`, or when it is null on a pool started only if something needs
// hashing (an unchanged tree then costs no threads). Adds the number of files hashed to
// *hashed.
Result<std::vector<DiskFile>> CompareWithDisk(const std::string& root,
                                              const std::vector<StagingEntry>& entries,
                                              int64_t index_time_ns, const TreeListing* scan,
                                              bool need_ids, ThreadPool* pool, uint64_t* hashed);

// Cleans a root-relative path: "." and "./" prefixes and trailing '/' go ("" is the root).
std::string CleanPath(std::string path);

// A staging entry for `f` with no stat cache: the next status hashes the file on disk.
StagingEntry UncachedEntry(const FileEntry& f);

// The HEAD commit's files (empty on an unborn branch).
Result<std::vector<FileEntry>> HeadFiles(Repository& repo);

// Removes `folder` and its parents up to (not including) the root while they are empty.
void RemoveEmptyParents(const std::string& root, const std::string& path);

// The shared "pathspec did not match" error.
Status PathspecError(const std::string& path);

}  // namespace vrepo
