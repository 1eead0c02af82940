// Upstreams: the remote branch a local branch follows (git's branch.NAME.remote and
// branch.NAME.merge in .vrepo/config), set up when a branch starts from a remote-tracking
// branch, and switching to a branch that only a remote has. Not thread-safe (one config file).
#pragma once

#include <optional>
#include <string>

#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo {

struct Upstream {
  std::string remote;  // a configured remote: "origin"
  std::string branch;  // the branch's short name on that remote: "main"
  // The remote-tracking branch's short name: "origin/main".
  std::string TrackingName() const { return remote + "/" + branch; }
};

// The upstream of local branch `branch`; nullopt when none is configured.
Result<std::optional<Upstream>> GetUpstream(const Repository& repo, const std::string& branch);
Status SetUpstream(const Repository& repo, const std::string& branch, const Upstream& upstream);
// Forgets the upstream of `branch`, as deleting the branch does; OK when it had none.
Status RemoveUpstream(const Repository& repo, const std::string& branch);

// The upstream `rev` stands for when it names a remote-tracking branch of a configured remote
// ("origin/main", "remotes/origin/main" or "refs/remotes/origin/main") and no local branch or
// tag of that name hides it; nullopt otherwise.
Result<std::optional<Upstream>> RemoteTrackingBranch(Repository& repo, const std::string& rev);

// branch NAME START: creates NAME at START and, when START is a remote-tracking branch, sets
// NAME to track it (git's branch.autoSetupMerge). Returns the upstream it set up.
Result<std::optional<Upstream>> CreateBranchFrom(Repository& repo, const std::string& name,
                                                 const std::string& start, bool force);

struct SwitchResult {
  bool created = false;              // the switch made the branch
  std::optional<Upstream> tracking;  // the upstream it set up for it
};
// switch as git does it beside remotes. With `create`, makes `branch` at `start` ("" = HEAD),
// tracking `start` when that is a remote-tracking branch. Without, a `branch` that does not
// exist but that one remote has (REMOTE/BRANCH) is made there, tracking it; InvalidArgument
// naming them when several remotes have it. Refuses like Switch, leaving no new branch.
Result<SwitchResult> SwitchBranch(Repository& repo, const std::string& branch, bool create,
                                  const std::string& start, const CheckoutOptions& options);

// The remote that pull talks to when none is named: the current branch's upstream remote,
// else "origin".
Result<std::string> DefaultRemote(Repository& repo);

}  // namespace vrepo
