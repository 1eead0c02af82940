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

namespace vrepo {

struct SyncOptions {
  int jobs = 4;                // parallel streams for content objects
  bool show_progress = false;  // a progress bar on stderr (when it is a terminal)
};

// What one ref did: "main: 1a2b3c4..5d6e7f8", "v1: new tag", "main: rejected (fetch first)".
struct RefResult {
  std::string name;  // full name
  std::string old_target;
  std::string new_target;
  std::string status;  // "new", "updated", "up to date", "forced", "rejected: WHY"
};

struct SyncReport {
  uint64_t commits = 0;        // commits that travelled
  uint64_t objects = 0;        // content objects that travelled
  uint64_t object_bytes = 0;   // their bytes on the wire
  std::vector<RefResult> refs;
  std::optional<std::string> head_branch;  // the remote's HEAD branch (full name), if any
  bool ok() const;             // no ref was rejected
};

struct PushOptions : SyncOptions {
  std::vector<std::string> branches;  // short names; empty = the current branch
  bool all = false;                   // every branch
  bool runs = false;                  // refs/runs/* too
  bool tags = false;                  // refs/tags/* too
  bool force = false;                 // allow updates that are not fast-forwards
};
// Pushes to `remote` (the remote's name in .vrepo/config is `remote_name`, for the tracking
// refs it updates). `repo` must be open for writing.
Result<SyncReport> Push(Repository& repo, Transport& remote, const std::string& remote_name,
                        const PushOptions& options);

struct FetchOptions : SyncOptions {
  bool runs = false;  // refs/runs/* too
};
// Fetches every branch into refs/remotes/REMOTE_NAME/*, new tags into refs/tags/*, and with
// `runs` refs/runs/*. `repo` must be open for writing.
Result<SyncReport> Fetch(Repository& repo, Transport& remote, const std::string& remote_name,
                         const FetchOptions& options);

struct CloneOptions : SyncOptions {
  std::string branch;  // "" = the branch the remote's HEAD names
  TransportOptions transport;
};
// Creates `dir` (which must not exist or be empty), a repository whose remote "origin" is
// `url`, fetches everything including runs, and checks out the branch.
Result<SyncReport> Clone(const std::string& url, const std::string& dir,
                         const CloneOptions& options);

}  // namespace vrepo
