// Repository: the handle on a .vrepo folder (object store, history, config) and the working
// tree beside it, or none when bare. Opening for writing takes the single-writer lock;
// opening read-only takes no lock and never blocks. One Repository belongs to one thread at
// a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/lock.h"
#include "vrepo/util/status.h"

namespace vrepo {

struct OpenOptions {
  bool read_only = false;      // readers take no lock
  bool wait_for_lock = false;  // writers: wait for another writer instead of failing
  StoreOptions store;
  // Writers only: when set, the store's index is first rebuilt from the pack files
  // (ObjectStore::RebuildIndex) and what that found is written here. For `fsck
  // --rebuild-index`; RebuildIndex in vrepo/worktree/worktree.h also restores the staging
  // index.
  IndexRebuildReport* rebuild_index = nullptr;
};

class Repository {
 public:
  // Creates .vrepo in `root` (which must exist). Fails if one is already there. A `bare`
  // repository (core.bare = true) has no working tree of its own: a server's copy, which
  // receives pushes to any branch and serves fetches and clones.
  static Result<std::unique_ptr<Repository>> Init(const std::string& root, bool bare = false);
  // Finds the repository containing `start` (walking up, like git). NotFound:
  // "not a vrepo repository (or any parent up to /): <start>".
  static Result<std::unique_ptr<Repository>> Discover(const std::string& start,
                                                      const OpenOptions& options);
  // The root of the repository containing `start`, as root() will name it, without
  // opening anything.
  static Result<std::string> FindRoot(const std::string& start);
  ~Repository();

  const std::string& root() const { return root_; }            // absolute, no trailing '/'
  const std::string& vrepo_dir() const { return vrepo_dir_; }  // root + "/.vrepo"
  // Scratch space for the writer's temporary files, emptied when a writer opens; it is
  // inside the working tree's file system, so files there can be renamed into place.
  std::string tmp_dir() const { return vrepo_dir_ + "/tmp"; }
  bool read_only() const { return read_only_; }
  bool bare() const { return bare_; }
  std::string config_path() const { return vrepo_dir_ + "/config"; }
  ObjectStore& store() { return *store_; }
  History& history() { return *history_; }

  // Turns a user path (relative to `cwd`, or absolute) into a path relative to the root:
  // "" for the root itself. InvalidArgument when it lies outside the working tree or
  // inside .vrepo.
  Result<std::string> RelativePath(const std::string& cwd, const std::string& user_path) const;

 private:
  Repository() = default;
  std::string root_;
  std::string vrepo_dir_;
  bool read_only_ = true;
  bool bare_ = false;
  std::optional<WriteLock> lock_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<History> history_;
};

// InvalidArgument "WHAT: repository ROOT was opened read-only" for a reader.
Status RequireWritable(const Repository& repo, const char* what);
// The config key naming the remote a lazy clone gets absent contents from.
inline constexpr const char* kLazyRemoteKey = "core.lazy-remote";
// That remote's name for a lazy clone (docs/remote.md, "Lazy clones"), nullopt for a
// repository that holds every object its history names.
Result<std::optional<std::string>> LazyRemote(const Repository& repo);

// InvalidArgument "this operation must be run in a work tree" (git's words) for a bare
// repository: what reads or writes the working tree or the staging index needs one.
Status RequireWorkTree(const Repository& repo);

}  // namespace vrepo
