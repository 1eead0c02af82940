// Push, fetch, pull and clone: moving history and content between the local repository and a
// Transport (docs/remote.md). Written once for every transport.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/remote/transport.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/reporter.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo {

struct SyncOptions {
  int jobs = 4;  // parallel streams for content objects
  // Progress of the objects sent or received ("sending objects", "receiving objects"), with
  // their bytes on the wire (Reporter::AdvanceBytes).
  Reporter* reporter = nullptr;
};

enum class RefOutcome {
  kUpToDate,  // both sides already named the same commit
  kNew,       // the ref did not exist on the receiving side
  kUpdated,   // moved forward
  kForced,    // moved to a commit that does not contain the old one
  kRejected,  // left as it was; RefResult::reason says why
  // Left as it was: the remote has this branch checked out in its working tree, whose
  // files a push must not change (RefListing::head_checked_out).
  kCheckedOut,
};

// What one ref did: "main: 1a2b3c4..5d6e7f8", "v1: new tag", "main: rejected (fetch first)".
struct RefResult {
  std::string name;  // full name
  std::string old_target;
  std::string new_target;
  RefOutcome outcome = RefOutcome::kUpToDate;
  std::string reason;  // kRejected, kCheckedOut: "fetch first", "non-fast-forward", ...
  // "up to date", "new", "updated", "forced" or "rejected: REASON", as --json prints it.
  std::string StatusText() const;
  bool moved() const {
    return outcome == RefOutcome::kNew || outcome == RefOutcome::kUpdated ||
           outcome == RefOutcome::kForced;
  }
  bool rejected() const {
    return outcome == RefOutcome::kRejected || outcome == RefOutcome::kCheckedOut;
  }
};

struct SyncReport {
  uint64_t commits = 0;       // commits that travelled
  uint64_t objects = 0;       // content objects that travelled
  uint64_t object_bytes = 0;  // their bytes on the wire
  std::vector<RefResult> refs;
  std::optional<std::string> head_branch;  // the remote's HEAD branch (full name), if any
  bool ok() const;                         // no ref was rejected
};

struct PushOptions : SyncOptions {
  std::vector<std::string> branches;  // short names; empty = the current branch
  bool all = false;                   // every branch
  bool runs = false;                  // refs/runs/* too, besides the branches
  bool models = false;                // refs/models/* too (base models)
  bool tags = false;                  // refs/tags/* too, besides the branches
  bool force = false;                 // allow updates that are not fast-forwards
};
// Pushes to `remote` (the remote's name in .vrepo/config is `remote_name`, for the tracking
// refs it updates). `repo` must be open for writing.
Result<SyncReport> Push(Repository& repo, Transport& remote, const std::string& remote_name,
                        const PushOptions& options);

struct FetchOptions : SyncOptions {
  bool runs = false;    // refs/runs/* too
  bool models = false;  // refs/models/* too
  // When set, only the contents of files it accepts travel (a lazy clone's, lazy.h); the
  // history always comes whole.
  std::function<bool(const FileEntry&)> contents;
};
// Fetches every branch into refs/remotes/REMOTE_NAME/*, new tags into refs/tags/*, and with
// `runs` refs/runs/*, with `models` refs/models/*. `repo` must be open for writing.
Result<SyncReport> Fetch(Repository& repo, Transport& remote, const std::string& remote_name,
                         const FetchOptions& options);

enum class PullOutcome {
  kUpToDate,        // the branch already contains REMOTE/BRANCH
  kFastForwarded,   // the branch and the working tree moved to REMOTE/BRANCH
  kDetachedHead,    // no branch to pull into: nothing was fetched
  kNoRemoteBranch,  // the remote has no branch of this name (after the fetch)
  kDiverged,        // both sides have commits of their own: nothing changed after the fetch
};
struct PullResult {
  PullOutcome outcome = PullOutcome::kUpToDate;
  SyncReport fetch;                     // what the fetch did (empty for kDetachedHead)
  std::string branch;                   // the current branch's short name
  std::string upstream;                 // REMOTE_NAME/BRANCH
  std::optional<std::string> old_head;  // the branch's commit before (none: an unborn branch)
  std::string new_head;                 // kFastForwarded: the commit it moved to
};
// Fetch, then fast-forward the current branch and the working tree (through `checkout`,
// which refuses to overwrite uncommitted changes) to REMOTE_NAME/BRANCH, where BRANCH is the
// branch's upstream on that remote (tracking.h) or else its own name. `on_fetched`, when
// set, hears the fetch's report before the branch moves, so a caller can show what arrived
// even when the fast-forward then fails. `repo` must be open for writing.
Result<PullResult> Pull(Repository& repo, Transport& remote, const std::string& remote_name,
                        const FetchOptions& options, const CheckoutOptions& checkout,
                        const std::function<void(const SyncReport&)>& on_fetched = {});

struct CloneOptions : SyncOptions {
  std::string branch;  // "" = the branch the remote's HEAD names
  TransportOptions transport;
  // A lazy clone (docs/remote.md, "Lazy clones"): the history whole, but of the contents
  // only label tables, .vrepoignore and files of at most `lazy_threshold` bytes; the rest
  // stay absent and are fetched from origin when read.
  bool lazy = false;
  uint64_t lazy_threshold = 64 << 10;
};
// Creates `dir` (which must not exist or be empty), a repository whose remote "origin" is
// `url`, fetches everything including runs, and checks out the branch, tracking origin's.
// A lazy clone records core.lazy-remote = origin and checks out only the files it has.
Result<SyncReport> Clone(const std::string& url, const std::string& dir,
                         const CloneOptions& options);

}  // namespace vrepo
