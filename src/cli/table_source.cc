#include "table_source.h"

#include <sys/stat.h>

#include <algorithm>

namespace vrepo::cli {
namespace {

// True when `table` is a file or a folder of `commit`.
Result<bool> InCommit(History& history, const std::string& commit, const std::string& table) {
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(commit));
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
Status WarnIfChanged(Repository& repo, const std::string& table, const std::string& user_table,
                     const std::string& commit, Reporter* reporter) {
  VREPO_ASSIGN_OR_RETURN(StatusReport status, ComputeStatus(repo));
  bool modified = false, untracked = false;
  for (const StatusEntry& e : status.entries) {
    if (!PathIsAtOrUnder(e.path, table)) continue;
    const bool is_untracked = e.unstaged == ChangeKind::kUntracked;
    untracked |= is_untracked;
    modified |= e.staged.has_value() || (e.unstaged && !is_untracked);
  }
  if (!modified && !untracked) return Status::OK();
  const char* what = modified && untracked ? "is modified and has untracked files"
                     : modified            ? "is modified"
                                           : "has untracked files";
  Warn(reporter, user_table + " " + what + " in the working tree; using the version committed in " +
                     ShortId(commit) + " [commit the changes to use them]");
  return Status::OK();
}

}  // namespace

Result<std::string> CommittedTablePath(Repository& repo, const Globals& g, const std::string& rev,
                                       const std::string& user_table, Reporter* reporter) {
  VREPO_ASSIGN_OR_RETURN(auto paths, RepoPaths(repo, g, {user_table}));
  std::string table = paths[0];
  if (repo.bare()) return table;
  History& history = repo.history();
  auto commit = history.ResolveCommit(rev);
  if (!commit.ok()) return table;
  VREPO_ASSIGN_OR_RETURN(bool committed, InCommit(history, *commit, table));
  if (committed) {
    VREPO_RETURN_IF_ERROR(WarnIfChanged(repo, table, user_table, *commit, reporter));
    return table;
  }
  // Only in the working tree: neither at REV nor at HEAD, but on disk.
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  if (head && *head != *commit) {
    VREPO_ASSIGN_OR_RETURN(bool in_head, InCommit(history, *head, table));
    if (in_head) return table;
  }
  struct stat st;
  if (::stat(JoinPath(repo.root(), table).c_str(), &st) != 0) return table;
  return Status::NotFound(user_table + ": not committed: run `vrepo add " + user_table +
                          "` and commit");
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
