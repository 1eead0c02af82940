// CodeRevision: which git commit a script ran from and whether its work tree had changes, for
// run records (`vrepo run`). Reads any ordinary git repository through libgit2 (this layer may
// use it; layers above may not). Stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>

#include "vrepo/util/status.h"

namespace vrepo {

struct CodeRevision {
  std::string work_dir;  // the repository's work tree, absolute, no trailing '/'
  std::string revision;  // HEAD's commit, 40 hex ("" before the first commit)
  // Tracked files differ from HEAD (staged or not), or `path` itself is untracked.
  bool dirty = false;
};

// The git repository with a work tree that holds `path` (a file or folder, absolute), found
// by walking up as git does; nullopt when there is none. Errors name `path` and the cause.
Result<std::optional<CodeRevision>> FindCodeRevision(const std::string& path);

}  // namespace vrepo
