// Fixtures for the remote tests: a source repository with committed files, and helpers that
// read a repository's refs and files.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "must.h"
#include "testing.h"
#include "vrepo/remote/service.h"
#include "vrepo/remote/sync.h"
#include "worktree/worktree_fixture.h"

namespace vrepo::testing {

// Opens the repository at `root` for writing.
inline std::unique_ptr<Repository> OpenWriter(const std::string& root) {
  OpenOptions options;
  options.wait_for_lock = true;
  return Must(Repository::Discover(root, options));
}

// The content ids that commit `rev`'s tree names.
inline std::vector<ContentId> ContentOf(Repository& repo, const std::string& rev) {
  std::vector<ContentId> ids;
  for (const FileEntry& f : Must(repo.history().ReadTree(rev))) ids.push_back(f.id);
  return ids;
}

}  // namespace vrepo::testing
