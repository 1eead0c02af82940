// Staged label edits of the web view and their commit. Edits belong to an owner (a session),
// a repository and a branch; committing them writes one ordinary commit on the branch that
// changes only the edited tables, each kept in its format (CSV or JSONL) with every other row
// byte for byte. Thread-safe store; the commit takes the repository's writer lock.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vrepo/repo/repository.h"
#include "vrepo/util/status.h"
#include "web_json.h"

namespace vrepo::web {

class DatasetCache;

struct LabelEdit {
  std::string table, path;
  std::string old_label, new_label;
};

struct EditSet {
  std::string branch;
  std::string base;  // the branch's commit when the first edit was staged; "" when none
  std::map<std::pair<std::string, std::string>, LabelEdit> edits;  // (table, path) -> edit
};

// {branch, commit, edits: [{table, path, old, new}]}
Json EditSetJson(const EditSet& set);

class LabelEditStore {
 public:
  // The edits of `owner` on the repository at `root`, on `branch` (empty when none).
  EditSet Get(const std::string& owner, const std::string& root, const std::string& branch);
  void Put(const std::string& owner, const std::string& root, const EditSet& set);
  // Forgets an owner's edits everywhere (its session ended).
  void DropOwner(const std::string& owner);

 private:
  std::mutex mu_;
  std::map<std::string, EditSet> sets_;  // owner '\0' root '\0' branch -> edits
};

// The branch label edits go to: HEAD's. Conflict when HEAD is detached or unborn. Sets
// *tip to its commit.
Result<std::string> EditBranch(Repository& repo, std::string* tip);

// Stages (or, when `label` is the committed one, drops) the edit of `path` in `table` on the
// branch. Conflict when the branch moved since the set's first edit; InvalidArgument for a
// folder-per-class table or a bad label; NotFound for a path the table lacks.
Status StageEdit(Repository& repo, DatasetCache& cache, const std::string& table,
                 const std::string& path, const std::string& label, EditSet* set);

// The table's text with the edits of `edits` for it applied to their rows (every row with
// that path); other bytes unchanged. InvalidArgument naming the table and line on a table that
// does not parse, NotFound for a path it lacks.
Result<std::string> ApplyLabelEdits(std::string_view text, const std::string& table,
                                    const std::map<std::string, std::string>& new_labels);

// Writes the set as one commit on its branch (the writer lock taken, waiting for it) and
// returns the commit's id. Conflict when the branch moved since the first edit, or when the
// branch is checked out here and a table has changes that are not committed; afterwards such a
// table's working-tree file and staging entry are those of the new commit.
Result<std::string> CommitLabelEdits(const std::string& repo_root, const EditSet& set,
                                     const std::string& message);

}  // namespace vrepo::web
