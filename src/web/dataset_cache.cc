#include "dataset_cache.h"

#include <algorithm>

#include "vrepo/dataset/dataset.h"
#include "vrepo/dataset/label_table.h"

namespace vrepo::web {
namespace {

constexpr uint64_t kMaxPerPage = 500;

Result<std::shared_ptr<const LoadedTable>> LoadTable(Repository& repo, const std::string& commit,
                                                     const std::string& table_arg) {
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, repo.history().ReadTree(commit));
  auto loaded = std::make_shared<LoadedTable>();
  loaded->commit = commit;
  loaded->tables = LabelTablePaths(files, 1000);
  std::string table = table_arg;
  if (table.empty()) {
    if (std::binary_search(loaded->tables.begin(), loaded->tables.end(), "labels.csv")) {
      table = "labels.csv";
    } else if (!loaded->tables.empty()) {
      table = loaded->tables.front();
    } else {
      return Status::NotFound("commit " + commit + " has no label table (.csv, .jsonl)");
    }
  }
  const ObjectStore& store = repo.store();
  TableReader read = [&](const FileEntry& file) { return store.Get(file.id); };
  VREPO_ASSIGN_OR_RETURN(DatasetVersion version,
                         JoinDataset(files, table, TableOptions{}, "commit " + commit, read));
  files = {};
  version.table.rows = {};  // the records are not needed once joined
  loaded->table = table;
  loaded->format = TableFormatName(version.table.format);
  loaded->problems = version.problems.size();
  for (const Sample& s : version.samples) loaded->labels.push_back(s.label);
  std::sort(loaded->labels.begin(), loaded->labels.end());
  loaded->labels.erase(std::unique(loaded->labels.begin(), loaded->labels.end()),
                       loaded->labels.end());
  loaded->by_label.resize(loaded->labels.size());
  loaded->rows.reserve(version.samples.size());
  for (Sample& s : version.samples) {
    auto at = std::lower_bound(loaded->labels.begin(), loaded->labels.end(), s.label);
    uint32_t label = static_cast<uint32_t>(at - loaded->labels.begin());
    loaded->by_label[label].push_back(static_cast<uint32_t>(loaded->rows.size()));
    loaded->rows.push_back(TableRow{std::move(s.path), label, s.id});
  }
  return std::shared_ptr<const LoadedTable>(std::move(loaded));
}

Json SampleJson(const LoadedTable& table, const TableRow& row) {
  return Json{{"path", row.path}, {"id", row.id.Hex()}, {"label", table.labels[row.label]}};
}

}  // namespace

std::vector<std::string> LabelTablePaths(const std::vector<FileEntry>& files, size_t max) {
  std::vector<std::string> tables;
  for (const FileEntry& f : files) {
    if (tables.size() >= max) break;
    if (TableFormatForPath(f.path).ok()) tables.push_back(f.path);
  }
  std::sort(tables.begin(), tables.end());
  return tables;
}

Result<std::shared_ptr<const LoadedTable>> DatasetCache::Get(Repository& repo,
                                                             const std::string& commit,
                                                             const std::string& table) {
  // A commit never changes, so its id names the table's bytes and the files they join with.
  const std::string key = repo.root() + '\0' + commit + '\0' + table;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first == key) {
        lru_.splice(lru_.begin(), lru_, it);
        return lru_.front().second;
      }
    }
  }
  VREPO_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedTable> loaded, LoadTable(repo, commit, table));
  std::lock_guard<std::mutex> lock(mu_);
  // Another request may have loaded it meanwhile: keep one copy.
  for (const Entry& e : lru_) {
    if (e.first == key) return e.second;
  }
  lru_.emplace_front(key, loaded);
  size_t rows = 0;
  for (const Entry& e : lru_) rows += e.second->rows.size();
  while (rows > max_rows_ && lru_.size() > 1) {
    rows -= lru_.back().second->rows.size();
    lru_.pop_back();
  }
  return loaded;
}

Json DatasetPage(const LoadedTable& table, const std::string& rev, const PageQuery& query) {
  Json counts = Json::object();
  for (size_t i = 0; i < table.labels.size(); ++i) {
    counts[table.labels[i]] = table.by_label[i].size();
  }
  const uint64_t per_page = std::clamp<uint64_t>(query.per_page, 1, kMaxPerPage);
  const uint64_t page = std::max<uint64_t>(query.page, 1);
  const uint64_t skip = (page - 1) * per_page;

  // Candidates are every row, or one label's rows; the path filter is one scan over them.
  const std::vector<uint32_t>* label_rows = nullptr;
  static const std::vector<uint32_t> kNoRows;
  if (!query.label.empty()) {
    auto at = std::lower_bound(table.labels.begin(), table.labels.end(), query.label);
    bool known = at != table.labels.end() && *at == query.label;
    label_rows = known ? &table.by_label[at - table.labels.begin()] : &kNoRows;
  }
  const uint64_t candidates = label_rows ? label_rows->size() : table.rows.size();
  auto row_at = [&](uint64_t i) -> const TableRow& {
    return table.rows[label_rows ? (*label_rows)[i] : i];
  };
  Json samples = Json::array();
  uint64_t matched = 0;
  if (query.path.empty()) {
    matched = candidates;
    for (uint64_t i = skip; i < candidates && i < skip + per_page; ++i) {
      samples.push_back(SampleJson(table, row_at(i)));
    }
  } else {
    for (uint64_t i = 0; i < candidates; ++i) {
      const TableRow& row = row_at(i);
      if (row.path.find(query.path) == std::string::npos) continue;
      if (matched >= skip && matched < skip + per_page) samples.push_back(SampleJson(table, row));
      ++matched;
    }
  }
  return Json{{"commit", table.commit},       {"rev", rev},
              {"table", table.table},         {"format", table.format},
              {"tables", table.tables},       {"counts", std::move(counts)},
              {"rows", table.rows.size()},    {"problems", table.problems},
              {"matched", matched},           {"page", page},
              {"per_page", per_page},         {"pages", (matched + per_page - 1) / per_page},
              {"samples", std::move(samples)}};
}

}  // namespace vrepo::web
