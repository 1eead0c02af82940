// Private to src/history: writes objects into a repository's object database as one git pack
// (version 2, no deltas) with its version-2 .idx. Skipping delta search is the point:
// pointer blobs do not delta well and git_mempack_dump spends seconds per million searching.
// Not thread-safe; one call owns its handles for its duration.
#pragma once

#include <string>
#include <vector>

#include "git_handles.h"

namespace vrepo::history_internal {

// Reads each object in `oids` from `source` (an odb backend such as a mempack) and installs
// them in `dest`, whose pack folder is `pack_dir`, as one pack plus .idx. `oids` must be
// distinct.
Status WritePackNoDelta(git_odb_backend* source, const std::vector<git_oid>& oids, git_odb* dest,
                        const std::string& pack_dir);

// The same pack (no deltas), built in memory from objects of `source`, for sending.
Result<std::string> PackToString(git_odb* source, const std::vector<git_oid>& oids);

}  // namespace vrepo::history_internal
