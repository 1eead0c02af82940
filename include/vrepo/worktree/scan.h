// Walking the working tree and hashing files. Internal to the worktree layer.
// ScanTree runs on the calling thread; HashFile is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrepo/store/content_id.h"
#include "vrepo/util/status.h"
#include "vrepo/worktree/ignore.h"
#include "vrepo/worktree/staging_index.h"

namespace vrepo {

struct ScannedFile {
  std::string path;  // relative to the root
  FileStat stat;
};

// Lists the regular files under folder `folder` (relative to `root`, "" for the root),
// sorted by path in byte order, skipping .vrepo and ignored paths (ignored folders are
// not entered). Symlinks and special files are skipped with a warning on stderr.
Result<std::vector<ScannedFile>> ScanTree(const std::string& root, const std::string& folder);

// lstat of root/path. NotFound when absent; `*is_regular` says whether it is a plain file.
Status StatPath(const std::string& root, const std::string& path, FileStat* st, bool* is_regular,
                bool* is_dir);

// Hashes the file at `abs_path` without storing it; returns its id and the stat taken on
// the open descriptor after reading (so the stat cache describes what was hashed); st->size
// is the number of bytes hashed.
Status HashFile(const std::string& abs_path, ContentId* id, FileStat* st);

}  // namespace vrepo
