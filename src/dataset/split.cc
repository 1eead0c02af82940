#include "vrepo/dataset/split.h"

#include <sys/stat.h>

#include <map>
#include <utility>

#include "vrepo/util/file.h"

namespace vrepo {
namespace {

// "labels.csv" + "val" -> "labels.val.csv"; a folder table "images" -> "images.val.csv".
std::string SplitFileName(const std::string& table, TableFormat format, const std::string& name) {
  std::string base = table.substr(table.rfind('/') + 1);
  if (format == TableFormat::kFolder) return (base.empty() ? "labels" : base) + "." + name + ".csv";
  size_t dot = base.rfind('.');
  return base.substr(0, dot) + "." + name + base.substr(dot);
}

Result<LabelTable> ReadTable(Repository& repo, const SplitRequest& request,
                             const std::string& disk_path) {
  struct stat st;
  const bool from_disk =
      request.rev.empty() && ::stat(disk_path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  if (from_disk) {
    VREPO_ASSIGN_OR_RETURN(std::string text, ReadFile(disk_path));
    return ParseLabelTable(text, request.table, request.columns);
  }
  // Folder tables exist only in commits: read it (or a table at --rev) from history.
  VREPO_ASSIGN_OR_RETURN(
      DatasetVersion version,
      LoadDataset(repo.history(), repo.store(), request.rev.empty() ? "HEAD" : request.rev,
                  request.table, request.columns));
  return std::move(version.table);
}

}  // namespace

Result<std::vector<SplitPart>> SplitTable(Repository& repo, const SplitRequest& request) {
  const SplitOptions& options = request.options;
  // Before the parts are sized from names and ratios (AssignSplits checks them again).
  VREPO_RETURN_IF_ERROR(CheckSplitOptions(options));
  const std::string disk_path = repo.root() + "/" + request.table;
  VREPO_ASSIGN_OR_RETURN(LabelTable table, ReadTable(repo, request, disk_path));

  const std::string out_dir = request.out_dir.empty() ? ParentPath(disk_path) : request.out_dir;
  std::vector<SplitPart> parts(options.names.size());
  for (size_t s = 0; s < parts.size(); ++s) {
    parts[s].name = options.names[s];
    parts[s].ratio = options.ratios[s];
    parts[s].path = out_dir + "/" + SplitFileName(request.table, table.format, options.names[s]);
    parts[s].table.format = table.format == TableFormat::kFolder ? TableFormat::kCsv : table.format;
    parts[s].table.header = table.header;
  }
  // With stratify, the rows already placed by an earlier split keep their place.
  std::map<std::string, size_t> previous;
  if (options.stratify) {
    for (size_t s = 0; s < parts.size(); ++s) {
      auto text = ReadFile(parts[s].path);
      if (!text.ok()) continue;
      VREPO_ASSIGN_OR_RETURN(LabelTable old,
                             ParseLabelTable(*text, parts[s].path, request.columns));
      for (const auto& row : old.rows) previous.emplace(row.path, s);
    }
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<size_t> assignment, AssignSplits(table, options, previous));
  for (size_t i = 0; i < table.rows.size(); ++i) {
    parts[assignment[i]].table.rows.push_back(table.rows[i]);
  }
  VREPO_RETURN_IF_ERROR(MakeDirs(out_dir));
  for (const SplitPart& part : parts) {
    VREPO_RETURN_IF_ERROR(WriteFileAtomic(part.path, SerializeTable(part.table)));
  }
  return parts;
}

}  // namespace vrepo
