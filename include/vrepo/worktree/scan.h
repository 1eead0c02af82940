// Walking the working tree and hashing files. Internal to the worktree layer.
// ScanTree runs on the calling thread; HashFile is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/store/content_id.h"
#include "vrepo/util/reporter.h"
#include "vrepo/util/status.h"
#include "vrepo/worktree/ignore.h"
#include "vrepo/worktree/staging_index.h"

namespace vrepo {

struct ScannedFile {
  std::string path;  // relative to the root
  FileStat stat;
};

// What a walk found, paths packed into one buffer: status walks 70,000 files, and a string
// each (allocated, then freed) was a tenth of its time.
class TreeListing {
 public:
  size_t size() const { return files_.size(); }
  std::string_view path(size_t i) const {
    return std::string_view(paths_).substr(files_[i].path_offset, files_[i].path_size);
  }
  const FileStat& stat(size_t i) const { return files_[i].stat; }

 private:
  friend class TreeWalker;
  struct File {
    size_t path_offset;
    uint32_t path_size;
    FileStat stat;
  };
  std::string paths_;
  std::vector<File> files_;
};

// Lists the regular files under folder `folder` (relative to `root`, "" for the root),
// sorted by path in byte order, skipping .vrepo and ignored paths (ignored folders are
// not entered). Symlinks and special files are skipped with a warning to `reporter`.
Result<TreeListing> ListTree(const std::string& root, const std::string& folder,
                             Reporter* reporter = nullptr);
// The same as ScannedFile values.
Result<std::vector<ScannedFile>> ScanTree(const std::string& root, const std::string& folder,
                                          Reporter* reporter = nullptr);

// lstat of root/path. NotFound when absent; `*is_regular` says whether it is a plain file.
Status StatPath(const std::string& root, const std::string& path, FileStat* st, bool* is_regular,
                bool* is_dir);

// Hashes the file at `abs_path` without storing it; returns its id and the stat taken on
// the open descriptor after reading (so the stat cache describes what was hashed); st->size
// is the number of bytes hashed.
Status HashFile(const std::string& abs_path, ContentId* id, FileStat* st);

}  // namespace vrepo
