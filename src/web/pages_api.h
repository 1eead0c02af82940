// The read-only answers of the web view's API (docs/ui.md, "Pages and their JSON"): the
// repository's front page, a commit, a label diff between two commits, the runs table, a run
// and a confusion cell's samples. Each reads through a Repository the caller opened; pure
// otherwise, thread-safe.
#pragma once

#include <string>

#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"
#include "web_json.h"

namespace vrepo::web {

inline constexpr size_t kMaxListed = 500;  // samples per kind in a diff; a cell's samples

// GET BASE/api/: branches, tags, the last 30 commits of HEAD, the newest 30 runs.
Result<Json> HomeJson(Repository& repo, const std::string& name);
// GET BASE/api/commit/REV: its files and the label diff of every table it changed.
Result<Json> CommitJson(Repository& repo, const std::string& rev);
// GET BASE/api/diff/A..B?labels=TABLE.
Result<Json> DiffJson(Repository& repo, const std::string& range, const std::string& table);

// GET BASE/api/runs?sort=METRIC&desc=1.
Result<Json> RunsJson(Repository& repo, const std::string& sort, bool desc);
// GET BASE/api/runs/ID.
Result<Json> RunJson(Repository& repo, const std::string& id);
// GET BASE/api/runs/ID/samples?label=L&predicted=P.
Result<Json> RunSamplesJson(Repository& repo, const std::string& id, const std::string& label,
                            const std::string& predicted);

}  // namespace vrepo::web
