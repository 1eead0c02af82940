// Private to src/history: writes objects into a repository's object database as one git pack
// (version 2, no deltas), indexed by libgit2's indexer. Skipping delta search is the point:
// pointer blobs do not delta well and git_mempack_dump spends seconds per million searching.
// Not thread-safe; one call owns its handles for its duration.
#pragma once

#include <vector>

#include "git_handles.h"

namespace vrepo::history_internal {

// Reads each object in `oids` from `source` (an odb backend such as a mempack) and installs
// them in `dest` as one pack plus .idx. `oids` must be distinct.
Status WritePackNoDelta(git_odb_backend* source, const std::vector<git_oid>& oids, git_odb* dest);

}  // namespace vrepo::history_internal
