// Lazy clones (docs/remote.md, "Lazy clones"): which contents a lazy clone takes at once, and
// the ObjectSource that gets the others from its remote when a command reads them. Free
// functions; the installed source is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "vrepo/history/history.h"
#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"

namespace vrepo {

// Whether a lazy clone takes a file's contents at once: label tables (*.csv, *.jsonl),
// .vrepoignore files, and other files of at most `threshold` bytes (the pointer's size)
// that are not images (.png, .jpg, .jpeg: the samples, always fetched on demand).
std::function<bool(const FileEntry&)> LazyCloneKeeps(uint64_t threshold);

// Records in .vrepo/config (core.lazy-remote) that `repo` is a lazy clone of `remote`.
Status MarkLazy(const Repository& repo, const std::string& remote);

// For a lazy clone, installs on repo.store() a source that gets absent objects from the
// lazy remote over `jobs` parallel streams, verifies them and stores them like any fetched
// object. The remote is opened at the first fetch, so commands that read nothing absent never
// reach it. A read-only `repo` stores what it gets through a writer of its own, which waits
// for the writer lock. Does nothing for a complete repository.
Status InstallLazySource(Repository& repo, int jobs = 4);

}  // namespace vrepo
