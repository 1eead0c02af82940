// Private to src/history: writes objects into a repository's object database as one git pack
// (version 2, no deltas) with its version-2 .idx. Skipping delta search is the point:
// pointer blobs do not delta well and git_mempack_dump spends seconds per million searching.
// Not thread-safe; one call owns its handles for its duration.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
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

// The most a received object of each kind may inflate to. vrepo's own packs hold pointer
// blobs of under 100 bytes, commits, tags and trees; a tree of a million-file folder is
// about 40 MB.
constexpr uint64_t kMaxPointerBlob = 1024;
constexpr uint64_t kMaxCommitOrTag = 16ull << 20;
constexpr uint64_t kMaxTree = 256ull << 20;

// The bound above for an object of `type`; 0 for a type vrepo never stores (deltas, unknown).
uint64_t MaxObjectSize(git_object_t type);

// Reads the type and size of `oid` from `odb`'s headers, without inflating it (a delta's
// result size is in its own header), and refuses an object over MaxObjectSize: a repository
// on disk may be a stranger's too, and libgit2 would resolve a few KB of delta into a GiB
// before any other check saw it. Corruption naming the object otherwise.
Status CheckObjectSize(git_odb* odb, const git_oid& oid);

// Checks a received pack before libgit2 indexes it: every object is a commit, tree, blob or
// tag (no deltas: vrepo never sends them, and a few KB of delta can resolve to a GiB), each
// within the bounds above, inflating to exactly its declared size. Corruption naming the
// object's offset otherwise. Inflates into a small buffer, so memory stays bounded.
Status CheckReceivedPack(std::string_view pack);

}  // namespace vrepo::history_internal
