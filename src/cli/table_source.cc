#include "table_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>

namespace vrepo::cli {
namespace {

// True when `table` is a file or a folder of `files` (a commit's tree, sorted).
bool InFiles(const std::vector<FileEntry>& files, const std::string& table) {
  auto it = std::lower_bound(files.begin(), files.end(), table,
                             [](const FileEntry& f, const std::string& p) { return f.path < p; });
  return (it != files.end() && it->path == table) || IsFolderInFiles(files, table);
}

bool PathIsAtOrUnder(const std::string& path, const std::string& table) {
  return table.empty() || path == table ||
         (path.size() > table.size() && path.compare(0, table.size(), table) == 0 &&
          path[table.size()] == '/');
}

// Warns when the working tree's copy of `table` has changes or untracked files.
void WarnIfChanged(const StatusReport& status, const std::string& table,
                   const std::string& user_table, const std::string& commit, Reporter* reporter) {
  bool modified = false, untracked = false;
  for (const StatusEntry& e : status.entries) {
    if (!PathIsAtOrUnder(e.path, table)) continue;
    const bool is_untracked = e.unstaged == ChangeKind::kUntracked;
    untracked |= is_untracked;
    modified |= e.staged.has_value() || (e.unstaged && !is_untracked);
  }
  if (!modified && !untracked) return;
  const char* what = modified && untracked ? "is modified and has untracked files"
                     : modified            ? "is modified"
                                           : "has untracked files";
  Warn(reporter, user_table + " " + what + " in the working tree; using the version committed in " +
                     ShortId(commit) + " [commit the changes to use them]");
}

// A table missing from `commit`: "not committed" when it is not at HEAD either but is on disk;
// otherwise OK, and the load that follows reports what is missing.
Status CheckNotOnlyOnDisk(Repository& repo, const std::string& commit, const std::string& table,
                          const std::string& user_table) {
  History& history = repo.history();
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  if (head && *head != commit) {
    VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> head_files, history.ReadTree(*head));
    if (InFiles(head_files, table)) return Status::OK();
  }
  struct stat st;
  if (::stat(JoinPath(repo.root(), table).c_str(), &st) != 0) return Status::OK();
  return Status::NotFound(user_table + ": not committed: run `vrepo add " + user_table +
                          "` and commit");
}

}  // namespace

Result<std::vector<std::string>> CommittedTablePaths(Repository& repo, const Globals& g,
                                                     const std::string& rev,
                                                     const std::vector<std::string>& user_tables,
                                                     Reporter* reporter) {
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> tables, RepoPaths(repo, g, user_tables));
  if (repo.bare()) return tables;
  History& history = repo.history();
  auto commit = history.ResolveCommit(rev);
  if (!commit.ok()) return tables;
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(*commit));
  std::optional<StatusReport> status;  // one walk of the working tree serves every table
  for (size_t i = 0; i < tables.size(); ++i) {
    if (!InFiles(files, tables[i])) {
      VREPO_RETURN_IF_ERROR(CheckNotOnlyOnDisk(repo, *commit, tables[i], user_tables[i]));
      continue;
    }
    if (!status) {
      VREPO_ASSIGN_OR_RETURN(status, ComputeStatus(repo));
    }
    WarnIfChanged(*status, tables[i], user_tables[i], *commit, reporter);
  }
  return tables;
}

Result<std::string> CommittedTablePath(Repository& repo, const Globals& g, const std::string& rev,
                                       const std::string& user_table, Reporter* reporter) {
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> tables,
                         CommittedTablePaths(repo, g, rev, {user_table}, reporter));
  return tables[0];
}

Status WithTableHint(const Status& status, const TableOptions& columns) {
  if (status.code() != Status::Code::kInvalidArgument) return status;
  const std::string& message = status.message();
  // The parsers' words for a missing column (CSV) or key (JSONL), the name in quotes.
  for (std::string_view marker : {"missing column '", "no key '"}) {
    size_t at = message.find(marker);
    if (at == std::string::npos) continue;
    at += marker.size();
    const bool path =
        message.compare(at, columns.path_column.size() + 1, columns.path_column + "'") == 0;
    return Status::InvalidArgument(message +
                                   (path ? " [name the path column with --path-column]"
                                         : " [name the label column with --label-column]"));
  }
  return status;
}

}  // namespace vrepo::cli
