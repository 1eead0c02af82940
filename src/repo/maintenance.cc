#include "vrepo/repo/maintenance.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "vrepo/util/text.h"

namespace vrepo {

namespace {

// Finds a commit (reachable from a branch, tag or HEAD) whose tree names `id` at `path`,
// to point a missing object at the history that needs it. Only called when something is
// missing, so the cost of reading trees again does not matter.
std::string CommitNaming(History& history, const ContentId& id, const std::string& path) {
  std::vector<std::string> starts;
  if (auto head = history.HeadCommit(); head.ok() && head->has_value()) starts.push_back(**head);
  if (auto branches = history.Branches(); branches.ok()) {
    for (const auto& b : *branches) starts.push_back(b.target);
  }
  if (auto tags = history.Tags(); tags.ok()) {
    for (const auto& t : *tags) starts.push_back(t.target);
  }
  std::unordered_set<std::string> seen;
  for (const auto& start : starts) {
    auto log = history.Log(start, 0);
    if (!log.ok()) continue;
    for (const auto& c : *log) {
      if (!seen.insert(c.id).second) continue;
      auto files = history.ReadTree(c.id);
      if (!files.ok()) continue;
      for (const auto& f : *files) {
        if (f.path == path && f.id == id) return c.id;
      }
    }
  }
  return "(a reachable commit)";
}

}  // namespace

Result<FsckReport> Fsck(Repository& repo, const ExtraRoots& extra) {
  FsckReport report;
  uint64_t checked = 0;
  VREPO_ASSIGN_OR_RETURN(std::vector<FsckProblem> store_problems,
                         repo.store().Fsck([&](uint64_t n) { checked = std::max(checked, n); }));
  for (const auto& p : store_problems) {
    std::string line = p.object.empty() ? "" : "object " + p.object + ": ";
    line += p.message;
    if (!p.pack.empty()) line += " (" + p.pack + ")";
    report.problems.push_back(line);
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> history_problems, repo.history().Fsck());
  report.problems.insert(report.problems.end(), history_problems.begin(), history_problems.end());

  // Every file named by the history or the extra roots must be in the store, and be the
  // size its pointer says: a size that arrived in a pointer is a claim until checked.
  std::unordered_map<ContentId, std::string, ContentIdHash> missing;  // id -> a path naming it
  std::unordered_map<ContentId, uint64_t, ContentIdHash> stored_size;
  VREPO_RETURN_IF_ERROR(repo.history().ForEachReachableFile([&](const FileEntry& f) {
    if (missing.count(f.id)) return;
    auto it = stored_size.find(f.id);
    if (it == stored_size.end()) {
      Result<ObjectLocation> loc = repo.store().Locate(f.id);
      if (!loc.ok()) {
        missing.emplace(f.id, f.path);
        return;
      }
      it = stored_size.emplace(f.id, loc->raw_size).first;
    }
    if (it->second != f.size) {
      report.problems.push_back("object " + f.id.Hex() + " for path " + QuoteName(f.path) +
                                ": its pointer says " + std::to_string(f.size) +
                                " bytes, the object holds " + std::to_string(it->second));
    }
  }));
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> lazy, LazyRemote(repo));
  if (lazy) {
    report.lazy_remote = *lazy;
    report.absent = missing.size();
    for (const FileEntry& f : extra.files) {
      if (!stored_size.count(f.id) && !missing.count(f.id) && !repo.store().Contains(f.id)) {
        missing.emplace(f.id, f.path);
        ++report.absent;
      }
    }
    report.objects_checked = std::max<uint64_t>(checked, stored_size.size());
    return report;
  }
  std::vector<std::pair<std::string, ContentId>> sorted;
  for (const auto& [id, path] : missing) sorted.emplace_back(path, id);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [path, id] : sorted) {
    report.problems.push_back("missing object " + id.Hex() + " for path " + path + " in commit " +
                              CommitNaming(repo.history(), id, path));
  }
  for (const FileEntry& f : extra.files) {
    if (!stored_size.count(f.id) && !repo.store().Contains(f.id)) {
      report.problems.push_back("missing object " + f.id.Hex() + " for path " + f.path + " in " +
                                extra.holder);
    }
  }
  report.objects_checked = std::max<uint64_t>(checked, stored_size.size() + missing.size());
  return report;
}

Result<GcResult> Gc(Repository& repo, const ExtraRoots& extra) {
  VREPO_RETURN_IF_ERROR(RequireWritable(repo, "gc"));
  std::unordered_set<ContentId, ContentIdHash> live;
  VREPO_RETURN_IF_ERROR(
      repo.history().ForEachReachableFile([&](const FileEntry& f) { live.insert(f.id); }));
  for (const FileEntry& f : extra.files) live.insert(f.id);
  GcResult result;
  VREPO_ASSIGN_OR_RETURN(result.bytes_before, repo.store().PackBytes());
  VREPO_ASSIGN_OR_RETURN(result.packs_removed, repo.store().PackCount());
  VREPO_ASSIGN_OR_RETURN(result.objects_dropped,
                         repo.store().Gc([&](const ContentId& id) { return live.count(id) > 0; }));
  VREPO_ASSIGN_OR_RETURN(result.bytes_after, repo.store().PackBytes());
  return result;
}

}  // namespace vrepo
