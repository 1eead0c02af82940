// fsck and gc over a repository's store and history, and what they name. The work tree's
// staging index is a layer above: worktree.h's Fsck and Gc pass its files in as extra roots.
// Each function runs on the calling thread (the store's checks use their own pool).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/repo/repository.h"

namespace vrepo {

// Files that something outside the history keeps alive, with what holds them.
struct ExtraRoots {
  std::string holder;            // for fsck's messages: "the staging index"
  std::vector<FileEntry> files;  // path and id are used; size is not checked
};

struct FsckReport {
  std::vector<std::string> problems;  // one line each, naming the object and file
  uint64_t objects_checked = 0;
  // In a lazy clone: objects the history or `extra` names that are not stored, which its
  // remote supplies on demand (not problems). Always 0 for a complete repository.
  uint64_t absent = 0;
  std::string lazy_remote;  // the lazy clone's remote, "" for a complete repository
};
// Checks the store's packs, the history's objects, and that every file the history or
// `extra` names is stored (at the size its pointer says, for the history's); in a lazy
// clone, objects not stored are counted as absent instead.
Result<FsckReport> Fsck(Repository& repo, const ExtraRoots& extra);

struct GcResult {
  uint64_t objects_dropped = 0;
  uint64_t bytes_before = 0;  // of all pack files
  uint64_t bytes_after = 0;
  uint64_t packs_removed = 0;  // old pack files replaced by the rewritten one
};
// Drops content objects that neither a ref nor `extra` reaches. Needs a writer.
Result<GcResult> Gc(Repository& repo, const ExtraRoots& extra);

}  // namespace vrepo
