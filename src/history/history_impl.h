// Private to src/history: the state behind a History (its libgit2 repository and object
// database) and the helpers that its files (commits, refs, trees, exchange, fsck) share.
// One History, and so its Impl, belongs to one thread at a time; ReadPointers alone reads
// the odb from a pool, which libgit2 allows.
#pragma once

#include <cstring>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "git_handles.h"
#include "vrepo/history/history.h"

namespace vrepo {

namespace history_internal {

struct OidHash {
  size_t operator()(const git_oid& o) const {
    size_t h;
    std::memcpy(&h, o.id, sizeof(h));  // already uniformly distributed
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const {
    return std::memcmp(a.id, b.id, GIT_OID_RAWSZ) == 0;
  }
};
using OidSet = std::unordered_set<git_oid, OidHash, OidEq>;

// A file of a tree whose pointer blob is still to be read.
struct PendingPointer {
  git_oid blob;
  std::string path;
  git_filemode_t mode;
};

// Refuses a tree whose names a checkout must not write (tree_name.h): Corruption naming the
// tree and the entry.
Status CheckTree(const git_tree* tree, const std::string& prefix);

CommitInfo ToCommitInfo(const git_commit* c);

}  // namespace history_internal

struct History::Impl {
  std::string path;
  history_internal::GitPtr<git_repository> repo;
  history_internal::GitPtr<git_odb> odb;

  // `rev` peeled to `peel_to`; NotFound "unknown revision 'REV'".
  Result<history_internal::GitPtr<git_object>> Revparse(const std::string& rev,
                                                        git_object_t peel_to);
  // The signature from the environment variables named, else `fallback`, else the git config.
  Result<history_internal::GitPtr<git_signature>> Signature(const char* name_env,
                                                            const char* email_env,
                                                            const char* date_env,
                                                            const git_signature* fallback);
  // Appends the files below `tree` (paths under `prefix`) to `out`, checking names as it goes.
  Status ReadTreeInto(const git_tree* tree, const std::string& prefix,
                      std::vector<history_internal::PendingPointer>* out);
  Result<FileEntry> ReadPointer(const git_oid& blob, std::string path, git_filemode_t mode);
  // ReadPointer for each of `pending`, in the same order; on a pool when there are many.
  Result<std::vector<FileEntry>> ReadPointers(
      std::vector<history_internal::PendingPointer> pending);
  // The id a ref names; nullopt when it does not exist (or HEAD is unborn).
  Result<std::optional<git_oid>> RefTarget(const std::string& refname);
  Result<std::vector<std::string>> AllRefNames();
  // The commits and trees that the refs and HEAD name, peeled.
  Status CollectTips(std::vector<git_oid>* commits, std::vector<git_oid>* trees);
};

}  // namespace vrepo
