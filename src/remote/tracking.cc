#include "vrepo/remote/tracking.h"

#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/remote/remote_config.h"
#include "vrepo/repo/config_file.h"

namespace vrepo {

namespace {

std::string Key(const std::string& branch, const char* field) {
  return "branch." + branch + "." + field;
}

Result<bool> RefExists(History& history, const std::string& full_name) {
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> target, history.ReadRef(full_name));
  return target.has_value();
}

// The remote-tracking branch REMOTE/`branch` of the one configured remote that has one;
// nullopt when none has, InvalidArgument naming them when several have.
Result<std::optional<Upstream>> OnlyRemoteBranch(Repository& repo, const std::string& branch) {
  VREPO_ASSIGN_OR_RETURN(std::vector<RemoteConfig> remotes, ListRemotes(repo));
  std::vector<Upstream> found;
  for (const RemoteConfig& r : remotes) {
    Upstream up{r.name, branch};
    VREPO_ASSIGN_OR_RETURN(
        bool exists, RefExists(repo.history(), std::string(kRemotesPrefix) + up.TrackingName()));
    if (exists) found.push_back(std::move(up));
  }
  if (found.size() <= 1) {
    return found.empty() ? std::optional<Upstream>() : std::optional<Upstream>(found[0]);
  }
  std::string names;
  for (const Upstream& u : found) names += (names.empty() ? "" : ", ") + u.TrackingName();
  return Status::InvalidArgument("'" + branch + "' matches remote-tracking branches of " +
                                 std::to_string(found.size()) + " remotes (" + names +
                                 "); name one as the new branch's start point");
}

}  // namespace

Result<std::optional<Upstream>> GetUpstream(const Repository& repo, const std::string& branch) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(repo.config_path()));
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> remote, cfg.GetString(Key(branch, "remote")));
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> merge, cfg.GetString(Key(branch, "merge")));
  if (!remote || !merge || !merge->starts_with(kHeadsPrefix)) return std::optional<Upstream>();
  return std::optional<Upstream>(Upstream{*remote, merge->substr(kHeadsPrefix.size())});
}

Status SetUpstream(const Repository& repo, const std::string& branch, const Upstream& upstream) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(repo.config_path()));
  VREPO_RETURN_IF_ERROR(cfg.SetString(Key(branch, "remote"), upstream.remote));
  return cfg.SetString(Key(branch, "merge"), std::string(kHeadsPrefix) + upstream.branch);
}

Status RemoveUpstream(const Repository& repo, const std::string& branch) {
  VREPO_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Open(repo.config_path()));
  for (const char* field : {"remote", "merge"}) {
    Status st = cfg.Delete(Key(branch, field));
    if (!st.ok() && st.code() != Status::Code::kNotFound) return st;
  }
  return Status::OK();
}

Result<std::optional<Upstream>> RemoteTrackingBranch(Repository& repo, const std::string& rev) {
  History& history = repo.history();
  // A local branch or tag of the same name wins, as in revision lookup.
  for (const char* prefix : {"refs/heads/", "refs/tags/"}) {
    VREPO_ASSIGN_OR_RETURN(bool hidden, RefExists(history, prefix + rev));
    if (hidden) return std::optional<Upstream>();
  }
  std::string name = rev;
  for (std::string_view prefix : {kRemotesPrefix, std::string_view("remotes/")}) {
    if (name.starts_with(prefix)) {
      name = name.substr(prefix.size());
      break;
    }
  }
  size_t slash = name.find('/');
  if (slash == std::string::npos || slash + 1 == name.size()) return std::optional<Upstream>();
  Upstream up{name.substr(0, slash), name.substr(slash + 1)};
  auto remote = GetRemote(repo, up.remote);
  if (!remote.ok()) {
    if (remote.status().code() == Status::Code::kNotFound) return std::optional<Upstream>();
    return remote.status();
  }
  VREPO_ASSIGN_OR_RETURN(bool exists, RefExists(history, std::string(kRemotesPrefix) + name));
  if (!exists) return std::optional<Upstream>();
  return std::optional<Upstream>(std::move(up));
}

Result<std::optional<Upstream>> CreateBranchFrom(Repository& repo, const std::string& name,
                                                 const std::string& start, bool force) {
  VREPO_ASSIGN_OR_RETURN(std::optional<Upstream> upstream, RemoteTrackingBranch(repo, start));
  VREPO_ASSIGN_OR_RETURN(std::string commit, repo.history().ResolveCommit(start));
  VREPO_RETURN_IF_ERROR(repo.history().CreateBranch(name, commit, force));
  if (upstream) VREPO_RETURN_IF_ERROR(SetUpstream(repo, name, *upstream));
  return upstream;
}

Result<SwitchResult> SwitchBranch(Repository& repo, const std::string& branch, bool create,
                                  const std::string& start, const CheckoutOptions& options) {
  SwitchResult result;
  result.created = create;
  std::string from = start;
  if (create && !start.empty()) {
    VREPO_ASSIGN_OR_RETURN(result.tracking, RemoteTrackingBranch(repo, start));
  } else if (!create) {
    VREPO_ASSIGN_OR_RETURN(bool exists,
                           RefExists(repo.history(), std::string(kHeadsPrefix) + branch));
    if (!exists) {
      VREPO_ASSIGN_OR_RETURN(result.tracking, OnlyRemoteBranch(repo, branch));
    }
    if (result.tracking) {
      result.created = true;
      from = std::string(kRemotesPrefix) + result.tracking->TrackingName();
    }
  }
  VREPO_RETURN_IF_ERROR(Switch(repo, branch, result.created, options, from));
  if (result.tracking) VREPO_RETURN_IF_ERROR(SetUpstream(repo, branch, *result.tracking));
  return result;
}

Result<std::string> DefaultRemote(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> branch, repo.history().CurrentBranch());
  if (branch) {
    VREPO_ASSIGN_OR_RETURN(std::optional<Upstream> upstream, GetUpstream(repo, *branch));
    if (upstream) return upstream->remote;
  }
  return std::string("origin");
}

}  // namespace vrepo
