// The front page, a commit's page and the label diff between two commits (pages_api.h).
#include <algorithm>

#include "dataset_cache.h"
#include "pages_api.h"
#include "vrepo/dataset/dataset.h"
#include "vrepo/runs/run_summary.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::web {
namespace {

constexpr size_t kHomeCommits = 30;
constexpr size_t kHomeRuns = 30;
constexpr size_t kMaxCommitFiles = 1000;

Json CommitSummaryJson(const CommitInfo& c) {
  return Json{{"id", c.id},
              {"subject", c.message.substr(0, c.message.find('\n'))},
              {"author", c.author_name},
              {"time", c.time}};
}

Json RefsJson(const std::vector<RefInfo>& refs) {
  Json out = Json::array();
  for (const RefInfo& r : refs) out.push_back(Json{{"name", r.name}, {"commit", r.target}});
  return out;
}

Json SampleChangeJson(const SampleChange& c, bool old_side) {
  const std::optional<ContentId>& id = old_side ? c.old_id : c.new_id;
  return Json{{"path", c.path},
              {"id", id ? id->Hex() : ""},
              {"label", old_side ? c.old_label : c.new_label}};
}

// {relabeled, added, removed (at most kMaxListed each), counts} of a label diff.
Json LabelDiffJson(const DatasetDiff& diff) {
  Json relabeled = Json::array(), added = Json::array(), removed = Json::array();
  uint64_t n_relabeled = 0, n_added = 0, n_removed = 0, n_changed = 0;
  for (const SampleChange& c : diff.changes) {
    switch (c.kind) {
      case SampleChangeKind::kRelabeled:
      case SampleChangeKind::kRelabeledAndChanged:
        if (++n_relabeled <= kMaxListed) {
          relabeled.push_back(Json{{"path", c.path},
                                   {"id", c.new_id ? c.new_id->Hex() : ""},
                                   {"old", c.old_label},
                                   {"new", c.new_label}});
        }
        break;
      case SampleChangeKind::kAdded:
        if (++n_added <= kMaxListed) added.push_back(SampleChangeJson(c, false));
        break;
      case SampleChangeKind::kRemoved:
        if (++n_removed <= kMaxListed) removed.push_back(SampleChangeJson(c, true));
        break;
      case SampleChangeKind::kContentChanged:
        ++n_changed;
        break;
    }
  }
  return Json{{"relabeled", std::move(relabeled)},
              {"added", std::move(added)},
              {"removed", std::move(removed)},
              {"counts",
               {{"relabeled", n_relabeled},
                {"added", n_added},
                {"removed", n_removed},
                {"image_changed", n_changed},
                {"unchanged", diff.unchanged}}}};
}

}  // namespace

Result<Json> HomeJson(Repository& repo, const std::string& name) {
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> branch, history.CurrentBranch());
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> branches, history.Branches());
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> tags, history.Tags());
  Json commits = Json::array();
  if (head) {
    VREPO_ASSIGN_OR_RETURN(std::vector<CommitInfo> log, history.Log(*head, kHomeCommits));
    for (const CommitInfo& c : log) commits.push_back(CommitSummaryJson(c));
  }
  // One damaged run record must not hide the branches and commits.
  auto listed = runs::ListRunSummaries(repo);
  const Json runs_error = listed.ok() ? Json(nullptr) : Json(listed.status().message());
  std::vector<runs::RunSummary> all_runs;
  if (listed.ok()) all_runs = std::move(listed).value();
  Json runs = Json::array();
  for (auto it = all_runs.rbegin(); it != all_runs.rend() && runs.size() < kHomeRuns; ++it) {
    runs.push_back(Json{{"name", it->DisplayName()},
                        {"commit", it->commit},
                        {"kind", runs::RunKindName(it->kind)},
                        {"status", it->status},
                        {"what", it->what},
                        {"time", it->time}});
  }
  return Json{{"name", name},
              {"head",
               {{"branch", branch ? Json(*branch) : Json(nullptr)},
                {"commit", head ? Json(*head) : Json(nullptr)}}},
              {"branches", RefsJson(branches)},
              {"tags", RefsJson(tags)},
              {"commits", std::move(commits)},
              {"runs", std::move(runs)},
              {"runs_error", runs_error}};
}

Result<Json> CommitJson(Repository& repo, const std::string& rev) {
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::string id, history.ResolveCommit(rev));
  VREPO_ASSIGN_OR_RETURN(CommitInfo commit, history.GetCommit(id));
  VREPO_ASSIGN_OR_RETURN(std::vector<DiffEntry> changes, CommitChanges(repo, id));
  Json added = Json::array(), modified = Json::array(), deleted = Json::array();
  std::vector<FileEntry> table_changes;  // tables added or modified
  for (const DiffEntry& e : changes) {
    Json* list = e.kind == ChangeKind::kAdded      ? &added
                 : e.kind == ChangeKind::kModified ? &modified
                                                   : &deleted;
    const std::optional<ContentId>& file_id = e.kind == ChangeKind::kDeleted ? e.old_id : e.new_id;
    if (list->size() < kMaxCommitFiles) {
      list->push_back(Json{{"path", e.path},
                           {"id", file_id ? file_id->Hex() : ""},
                           {"size", e.kind == ChangeKind::kDeleted ? e.old_size : e.new_size}});
    }
    if (e.kind != ChangeKind::kDeleted && e.new_id) {
      table_changes.push_back(FileEntry{e.path, *e.new_id, e.new_size, false});
    }
  }
  Json counts = {{"added", 0}, {"modified", 0}, {"deleted", 0}};
  for (const DiffEntry& e : changes) {
    const char* key = e.kind == ChangeKind::kAdded      ? "added"
                      : e.kind == ChangeKind::kModified ? "modified"
                                                        : "deleted";
    counts[key] = counts[key].get<uint64_t>() + 1;
  }
  Json tables = Json::array();
  const std::string parent = commit.parents.empty() ? "" : commit.parents[0];
  for (const std::string& table : LabelTablePaths(table_changes, 20)) {
    Json entry;
    auto after = LoadDataset(history, repo.store(), id, table, TableOptions{});
    Result<DatasetVersion> before = DatasetVersion{};
    if (after.ok() && !parent.empty()) {
      before = LoadDataset(history, repo.store(), parent, table, TableOptions{});
      // A table this commit added is all additions.
      if (!before.ok() && before.status().code() == Status::Code::kNotFound) {
        before = DatasetVersion{};
      }
    }
    if (!after.ok() || !before.ok()) {
      // A CSV that is no label table (no path or label column) is shown as a file only.
      const Status& why = after.ok() ? before.status() : after.status();
      entry = Json{{"path", table}, {"error", why.message()}};
    } else {
      entry = LabelDiffJson(DiffDatasets(*before, *after));
      entry["path"] = table;
    }
    tables.push_back(std::move(entry));
  }
  return Json{{"id", commit.id},
              {"parents", commit.parents},
              {"subject", commit.message.substr(0, commit.message.find('\n'))},
              {"message", commit.message},
              {"author", commit.author_name},
              {"time", commit.time},
              {"files",
               {{"added", std::move(added)},
                {"modified", std::move(modified)},
                {"deleted", std::move(deleted)},
                {"counts", std::move(counts)}}},
              {"tables", std::move(tables)}};
}

Result<Json> DiffJson(Repository& repo, const std::string& range, const std::string& table) {
  size_t dots = range.find("..");
  if (dots == std::string::npos || range.find("..", dots + 2) != std::string::npos) {
    return Status::InvalidArgument("diff range '" + range + "' is not A..B");
  }
  const std::string from = range.substr(0, dots), to = range.substr(dots + 2);
  VREPO_RETURN_IF_ERROR(CheckRevParam(from));
  VREPO_RETURN_IF_ERROR(CheckRevParam(to));
  VREPO_RETURN_IF_ERROR(CheckRepoPathParam("labels", table));
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::string from_id, history.ResolveCommit(from));
  VREPO_ASSIGN_OR_RETURN(std::string to_id, history.ResolveCommit(to));
  VREPO_ASSIGN_OR_RETURN(
      std::vector<DatasetVersion> sides,
      LoadDatasets(history, repo.store(), {from_id, to_id}, table, TableOptions{}));
  Json out = LabelDiffJson(DiffDatasets(sides[0], sides[1]));
  out["from"] = from_id;
  out["to"] = to_id;
  out["table"] = table;
  return out;
}

}  // namespace vrepo::web
