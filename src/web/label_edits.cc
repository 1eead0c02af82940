#include "label_edits.h"

#include <algorithm>

#include "dataset_cache.h"
#include "vrepo/dataset/label_table.h"
#include "vrepo/repo/repository.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::web {
namespace {

std::string EditSetKey(const std::string& owner, const std::string& root,
                       const std::string& branch) {
  return owner + '\0' + root + '\0' + branch;
}

// The byte offset where each line starts (index 1 = line 1), after a UTF-8 byte order mark as
// the table parsers skip it.
std::vector<size_t> LineStarts(std::string_view text) {
  std::vector<size_t> starts = {0, 0};
  if (text.substr(0, 3) == "\xEF\xBB\xBF") starts[1] = 3;
  for (size_t i = starts[1]; i < text.size(); ++i) {
    if (text[i] == '\n') starts.push_back(i + 1);
  }
  return starts;
}

// A CSV record with its label field replaced. The record is parsed as a one-line table whose
// header it is, so that its fields come from the same parser as the table's.
Result<std::string> RelabelCsvRecord(const LabelTable& table, const LabelRow& row,
                                     const std::string& label) {
  auto label_column =
      std::find(table.header_fields.begin(), table.header_fields.end(), table.columns.label_column);
  if (label_column == table.header_fields.end()) {
    return Status::InvalidArgument(table.source + ": no column '" + table.columns.label_column +
                                   "'");
  }
  TableOptions as_header;
  as_header.path_column = row.path;
  as_header.label_column = row.label;
  VREPO_ASSIGN_OR_RETURN(LabelTable one, ParseCsvTable(row.record + "\n", table.source, as_header));
  std::vector<std::string> fields = one.header_fields;
  size_t index = label_column - table.header_fields.begin();
  if (index >= fields.size()) {
    return Status::InvalidArgument(table.source + ":" + std::to_string(row.line) +
                                   ": fewer fields than the header");
  }
  fields[index] = label;
  return CsvLine(fields);
}

// A JSONL record with its label key set; a label that was an integer stays one when the new
// label is an integer too.
Result<std::string> RelabelJsonRecord(const LabelTable& table, const LabelRow& row,
                                      const std::string& label) {
  nlohmann::ordered_json value = nlohmann::ordered_json::parse(row.record, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    return Status::InvalidArgument(table.source + ":" + std::to_string(row.line) +
                                   ": not a JSON object");
  }
  auto& field = value[table.columns.label_column];
  bool digits = !label.empty() && label.size() < 18 &&
                label.find_first_not_of("0123456789") == std::string::npos;
  if (field.is_number_integer() && digits) {
    field = std::stoll(label);
  } else {
    field = label;
  }
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Refuses a table whose working-tree file or staging entry differs from HEAD's: the commit
// would overwrite those changes.
Status CheckTableClean(Repository& repo, const std::string& table) {
  VREPO_ASSIGN_OR_RETURN(std::vector<DiffEntry> unstaged, Diff(repo, {}, {table}));
  VREPO_ASSIGN_OR_RETURN(std::vector<DiffEntry> against_head, Diff(repo, {"HEAD"}, {table}));
  if (!unstaged.empty() || !against_head.empty()) {
    return Status::Conflict(table + " has changes that are not committed in " + repo.root() +
                            " (working tree or staging index): commit or restore them first");
  }
  return Status::OK();
}

}  // namespace

Json EditSetJson(const EditSet& set) {
  Json edits = Json::array();
  for (const auto& [key, e] : set.edits) {
    edits.push_back(
        Json{{"table", e.table}, {"path", e.path}, {"old", e.old_label}, {"new", e.new_label}});
  }
  return Json{{"branch", set.branch},
              {"commit", set.base.empty() ? Json(nullptr) : Json(set.base)},
              {"edits", std::move(edits)}};
}

EditSet LabelEditStore::Get(const std::string& owner, const std::string& root,
                            const std::string& branch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sets_.find(EditSetKey(owner, root, branch));
  if (it != sets_.end()) return it->second;
  EditSet set;
  set.branch = branch;
  return set;
}

void LabelEditStore::Put(const std::string& owner, const std::string& root, const EditSet& set) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string key = EditSetKey(owner, root, set.branch);
  if (set.edits.empty()) {
    sets_.erase(key);
  } else {
    sets_[key] = set;
  }
}

void LabelEditStore::DropOwner(const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string prefix = owner + '\0';
  std::erase_if(sets_, [&](const auto& s) { return s.first.rfind(prefix, 0) == 0; });
}

Result<std::string> EditBranch(Repository& repo, std::string* tip) {
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> branch, repo.history().CurrentBranch());
  if (!branch) {
    return Status::Conflict("HEAD of " + repo.root() +
                            " is detached: label fixing commits to a branch");
  }
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> commit,
                         repo.history().ReadRef(std::string(kHeadsPrefix) + *branch));
  if (!commit) return Status::Conflict("branch " + *branch + " has no commit yet");
  *tip = *commit;
  return *branch;
}

Status StageEdit(Repository& repo, DatasetCache& cache, const std::string& table,
                 const std::string& path, const std::string& label, EditSet* set) {
  std::string tip;
  VREPO_ASSIGN_OR_RETURN(std::string branch, EditBranch(repo, &tip));
  if (branch != set->branch) return Status::Conflict("HEAD moved to branch " + branch);
  if (!set->base.empty() && set->base != tip) {
    return Status::Conflict("branch " + branch + " moved from " + set->base.substr(0, 12) + " to " +
                            tip.substr(0, 12) +
                            " since the first staged edit: unstage the edits and stage them "
                            "again");
  }
  if (!TableFormatForPath(table).ok()) {
    return Status::InvalidArgument(table +
                                   ": only CSV and JSONL tables are edited here; in a "
                                   "folder-per-class table, move the image to its class folder");
  }
  VREPO_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedTable> loaded, cache.Get(repo, tip, table));
  const TableRow* row = nullptr;
  for (const TableRow& r : loaded->rows) {
    if (r.path == path) {
      row = &r;
      break;
    }
  }
  if (!row) return Status::NotFound(table + " at " + tip.substr(0, 12) + " has no row for " + path);
  const std::string& committed = loaded->labels[row->label];
  if (label == committed) {
    set->edits.erase({table, path});
  } else {
    set->edits[{table, path}] = LabelEdit{table, path, committed, label};
  }
  set->base = set->edits.empty() ? "" : tip;
  return Status::OK();
}

Result<std::string> ApplyLabelEdits(std::string_view text, const std::string& table,
                                    const std::map<std::string, std::string>& new_labels) {
  VREPO_ASSIGN_OR_RETURN(LabelTable parsed, ParseLabelTable(text, table, TableOptions{}));
  const std::vector<size_t> starts = LineStarts(text);
  // Replacements from the end, so that earlier offsets stay valid.
  std::vector<std::pair<size_t, std::pair<size_t, std::string>>> replacements;
  std::map<std::string, bool> found;
  for (const LabelRow& row : parsed.rows) {
    auto it = new_labels.find(row.path);
    if (it == new_labels.end()) continue;
    found[row.path] = true;
    if (row.line >= starts.size() ||
        text.substr(starts[row.line], row.record.size()) != row.record) {
      return Status::Corruption(table + ":" + std::to_string(row.line) +
                                ": record not found where the parser read it");
    }
    Result<std::string> record = parsed.format == TableFormat::kCsv
                                     ? RelabelCsvRecord(parsed, row, it->second)
                                     : RelabelJsonRecord(parsed, row, it->second);
    if (!record.ok()) return record.status();
    replacements.push_back({starts[row.line], {row.record.size(), std::move(*record)}});
  }
  for (const auto& [path, label] : new_labels) {
    if (!found.count(path)) return Status::NotFound(table + " has no row for " + path);
  }
  std::string out(text);
  std::sort(replacements.begin(), replacements.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [offset, replacement] : replacements) {
    out.replace(offset, replacement.first, replacement.second);
  }
  return out;
}

Result<std::string> CommitLabelEdits(const std::string& repo_root, const EditSet& set,
                                     const std::string& message) {
  if (set.edits.empty()) return Status::InvalidArgument("no staged label edits to commit");
  OpenOptions options;
  options.read_only = false;
  options.wait_for_lock = true;
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<Repository> repo,
                         Repository::Discover(repo_root, options));
  History& history = repo->history();
  const std::string ref = std::string(kHeadsPrefix) + set.branch;
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> tip, history.ReadRef(ref));
  if (!tip || *tip != set.base) {
    return Status::Conflict("branch " + set.branch + " moved since the first staged edit (was " +
                            set.base.substr(0, 12) + ", now " +
                            (tip ? tip->substr(0, 12) : std::string("gone")) +
                            "): unstage the edits and stage them again");
  }
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> current, history.CurrentBranch());
  const bool checked_out = !repo->bare() && current && *current == set.branch;

  std::map<std::string, std::map<std::string, std::string>> by_table;
  for (const auto& [key, edit] : set.edits) by_table[edit.table][edit.path] = edit.new_label;
  std::vector<std::string> tables;
  for (const auto& [table, labels] : by_table) {
    tables.push_back(table);
    if (checked_out) VREPO_RETURN_IF_ERROR(CheckTableClean(*repo, table));
  }

  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(*tip));
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, repo->store().NewWriter());
  for (const auto& [table, labels] : by_table) {
    const std::string& path = table;  // a structured binding cannot be captured before C++20
    auto entry = std::find_if(files.begin(), files.end(),
                              [&](const FileEntry& f) { return f.path == path; });
    if (entry == files.end()) {
      return Status::NotFound("table " + table + " is not in " + set.branch);
    }
    VREPO_ASSIGN_OR_RETURN(std::string text, repo->store().Get(entry->id));
    VREPO_ASSIGN_OR_RETURN(std::string edited, ApplyLabelEdits(text, table, labels));
    VREPO_ASSIGN_OR_RETURN(entry->id, writer->Put(edited));
    entry->size = edited.size();
  }
  VREPO_RETURN_IF_ERROR(writer->Commit(nullptr));
  VREPO_ASSIGN_OR_RETURN(std::string tree, history.WriteTree(files));
  VREPO_ASSIGN_OR_RETURN(std::string commit, history.CreateCommit(tree, {*tip}, message));
  const std::string reflog = "commit (web view): " + message.substr(0, message.find('\n'));
  if (checked_out) {
    VREPO_RETURN_IF_ERROR(history.AdvanceHead(commit, *tip, reflog));
    // The tables' files and staging entries follow the branch, as after `vrepo commit`.
    VREPO_RETURN_IF_ERROR(Restore(*repo, tables, commit));
  } else {
    VREPO_RETURN_IF_ERROR(history.UpdateRef(ref, commit, *tip, reflog));
  }
  return commit;
}

}  // namespace vrepo::web
