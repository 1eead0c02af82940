// The dataset pages' cache: a label table at a commit joined with the commit's files, parsed
// once and kept with per-label row lists and counts, so that a page of a million-row table is
// a slice (and a path filter one scan) rather than a parse. A small LRU bounded by rows.
// Thread-safe; the tables it hands out are immutable.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vrepo/repo/repository.h"
#include "vrepo/store/content_id.h"
#include "vrepo/util/status.h"
#include "web_json.h"

namespace vrepo::web {

struct TableRow {
  std::string path;
  uint32_t label = 0;  // index into LoadedTable::labels
  ContentId id;
};

struct LoadedTable {
  std::string commit;               // 40 hex
  std::string table;                // its path in the commit
  std::string format;               // "csv", "jsonl", "folder"
  std::vector<std::string> tables;  // every .csv/.jsonl/.ndjson file of the commit, sorted
  std::vector<std::string> labels;  // sorted
  std::vector<TableRow> rows;       // samples (rows naming a file of the commit), table order
  std::vector<std::vector<uint32_t>> by_label;  // per label: indices into rows, in order
  uint64_t problems = 0;  // rows naming no file of the commit, or repeating a path
};

// The label table files of `files` (by extension), sorted, at most `max`.
std::vector<std::string> LabelTablePaths(const std::vector<FileEntry>& files, size_t max);

class DatasetCache {
 public:
  explicit DatasetCache(size_t max_rows) : max_rows_(max_rows) {}
  // Table `table` ("" = labels.csv when the commit has it, else its first table) at `commit`
  // (40 hex) of the repository. Errors as LoadDataset's (a table that does not parse names
  // file and line).
  Result<std::shared_ptr<const LoadedTable>> Get(Repository& repo, const std::string& commit,
                                                 const std::string& table);

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const LoadedTable>>;
  const size_t max_rows_;
  std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
};

struct PageQuery {
  std::string label;  // "" = every label
  std::string path;   // substring; "" = every path
  uint64_t page = 1;  // 1-based
  uint64_t per_page = 60;
};

// The docs/ui.md answer for one page: counts over the whole table, the matches, one slice.
Json DatasetPage(const LoadedTable& table, const std::string& rev, const PageQuery& query);

}  // namespace vrepo::web
