#include "vrepo/dataset/dataset.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "vrepo/dataset/sample_digest.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {
namespace {

const FileEntry* FindFile(const std::vector<FileEntry>& files, std::string_view path) {
  auto it = std::lower_bound(files.begin(), files.end(), path,
                             [](const FileEntry& f, std::string_view p) { return f.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}

std::string NormalizeTablePath(std::string path) {
  while (path.compare(0, 2, "./") == 0) path.erase(0, 2);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path == "." ? "" : path;
}

// Samples grouped by content: `slot[i]` numbers sample i's content among the distinct ones,
// `first[k]` is the first sample with content k. One hash lookup per sample, done once.
struct ContentGroups {
  std::vector<uint32_t> slot;
  std::vector<size_t> first;
};

ContentGroups GroupByContent(const std::vector<Sample>& samples) {
  ContentGroups groups;
  groups.slot.resize(samples.size());
  std::unordered_map<ContentId, uint32_t, ContentIdHash> slot_of_id;
  slot_of_id.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    auto [it, fresh] =
        slot_of_id.emplace(samples[i].id, static_cast<uint32_t>(groups.first.size()));
    if (fresh) groups.first.push_back(i);
    groups.slot[i] = it->second;
  }
  return groups;
}

// Hash of (seed, path) as a number in [0, 1): the only input a sample's split depends on.
std::vector<ContentId> ContentIdsOf(const std::vector<Sample>& samples,
                                    const std::vector<size_t>& which) {
  std::vector<ContentId> ids;
  ids.reserve(which.size());
  for (size_t i : which) ids.push_back(samples[i].id);
  return ids;
}

double SplitHash(uint64_t seed, std::string_view path) {
  Sha256 sha;
  char seed_bytes[8];
  for (int i = 0; i < 8; ++i) seed_bytes[i] = static_cast<char>((seed >> (8 * i)) & 0xFF);
  sha.Update(std::string_view(seed_bytes, 8));
  sha.Update(path);
  ContentId h = sha.Finish();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | h.bytes[i];
  return static_cast<double>(v >> 11) * 0x1.0p-53;
}

// A folder-table sample's path without its class folder (`prefix_size`: the table folder's
// length with its '/'): what a relabel by moving keeps.
std::string WithoutClass(const std::string& path, size_t prefix_size) {
  return path.substr(0, prefix_size) + path.substr(path.find('/', prefix_size) + 1);
}

// Turns each removed and added pair of the same bytes and the same path below the class
// folder into one relabel; a pair is only taken when no other change shares its key.
void PairClassMoves(const LabelTable& table, DatasetDiff* diff) {
  const size_t prefix_size = table.source == "." ? 0 : table.source.size() + 1;
  std::unordered_map<std::string, std::vector<size_t>> removed, added;
  std::vector<SampleChange>& changes = diff->changes;
  for (size_t i = 0; i < changes.size(); ++i) {
    const SampleChange& c = changes[i];
    if (c.kind == SampleChangeKind::kRemoved) {
      removed[c.old_id->Hex() + WithoutClass(c.path, prefix_size)].push_back(i);
    } else if (c.kind == SampleChangeKind::kAdded) {
      added[c.new_id->Hex() + WithoutClass(c.path, prefix_size)].push_back(i);
    }
  }
  std::vector<bool> merged_away(changes.size(), false);
  for (const auto& [key, from] : removed) {
    auto to = added.find(key);
    if (from.size() != 1 || to == added.end() || to->second.size() != 1) continue;
    const SampleChange& old_c = changes[from[0]];
    SampleChange& new_c = changes[to->second[0]];
    ClassCounts& out = diff->per_label[old_c.old_label];
    --out.removed;
    ++out.relabeled_out;
    ClassCounts& in = diff->per_label[new_c.new_label];
    --in.added;
    ++in.relabeled_in;
    new_c.kind = SampleChangeKind::kRelabeled;
    new_c.old_label = old_c.old_label;
    new_c.old_id = old_c.old_id;
    new_c.old_path = old_c.path;
    merged_away[from[0]] = true;
  }
  size_t kept = 0;
  for (size_t i = 0; i < changes.size(); ++i) {
    if (merged_away[i]) continue;
    if (kept != i) changes[kept] = std::move(changes[i]);
    ++kept;
  }
  changes.resize(kept);
}

// Fills stats->shapes and stats->sizes from each distinct content's header and use count.
void CountShapes(const std::vector<ImageInfo>& info_of, const std::vector<uint32_t>& uses,
                 DatasetStats* stats) {
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, uint64_t> per_shape;
  SizeRange& r = stats->sizes;
  bool first = true;
  for (size_t k = 0; k < info_of.size(); ++k) {
    const ImageInfo& info = info_of[k];
    if (info.format == ImageFormat::kUnknown) continue;
    per_shape[{info.width, info.height, info.channels}] += uses[k];
    if (first) r = {info.width, info.width, info.height, info.height};
    first = false;
    r.min_width = std::min(r.min_width, info.width);
    r.max_width = std::max(r.max_width, info.width);
    r.min_height = std::min(r.min_height, info.height);
    r.max_height = std::max(r.max_height, info.height);
  }
  for (const auto& [shape, n] : per_shape) {
    stats->shapes.push_back({std::get<0>(shape), std::get<1>(shape), std::get<2>(shape), n});
  }
  // Stable on the map's (width, height, channels) order, so ties keep it.
  std::stable_sort(stats->shapes.begin(), stats->shapes.end(),
                   [](const ShapeCount& a, const ShapeCount& b) { return a.samples > b.samples; });
}

}  // namespace

const char* ProblemKindName(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kMissing:
      return "missing";
    case ProblemKind::kDuplicatePath:
      return "duplicate-path";
    case ProblemKind::kEmptyLabel:
      return "empty-label";
    case ProblemKind::kBadImage:
      return "bad-image";
    case ProblemKind::kLabelConflict:
      return "label-conflict";
  }
  return "?";
}

const char* SampleChangeKindName(SampleChangeKind kind) {
  switch (kind) {
    case SampleChangeKind::kAdded:
      return "added";
    case SampleChangeKind::kRemoved:
      return "removed";
    case SampleChangeKind::kRelabeled:
      return "relabeled";
    case SampleChangeKind::kContentChanged:
      return "content-changed";
    case SampleChangeKind::kRelabeledAndChanged:
      return "relabeled-and-changed";
  }
  return "?";
}

Result<DatasetVersion> LoadDataset(History& history, const ObjectStore& store,
                                   const std::string& rev, const std::string& table_path,
                                   const TableOptions& options) {
  VREPO_ASSIGN_OR_RETURN(std::string commit, history.ResolveCommit(rev));
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(commit));
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(commit));
  auto read = [&](const FileEntry& file) { return store.Get(file.id); };
  auto version = JoinDataset(files, table_path, options, "commit " + commit.substr(0, 7), read);
  if (!version.ok()) {
    if (version.status().code() != Status::Code::kNotFound) return version.status();
    return Status::NotFound(version.status().message() + " (" + rev + ")");
  }
  version->commit = std::move(commit);
  version->tree = info.tree;
  return version;
}

Result<DatasetVersion> JoinDataset(const std::vector<FileEntry>& files,
                                   const std::string& table_path, const TableOptions& options,
                                   const std::string& where, const TableReader& read_table) {
  DatasetVersion version;
  const std::string table = NormalizeTablePath(table_path);
  if (const FileEntry* file = FindFile(files, table)) {
    VREPO_ASSIGN_OR_RETURN(std::string text, read_table(*file));
    VREPO_ASSIGN_OR_RETURN(version.table, ParseLabelTable(text, table, options));
  } else if (IsFolderInFiles(files, table)) {
    version.table = FolderTable(files, table);
  } else {
    return Status::NotFound("label table '" + table_path + "' is not a file or folder of " + where);
  }

  version.samples.reserve(version.table.rows.size());
  // Repeats are found through the file each row names (no hashing of a million paths);
  // only rows naming no file need a set of their own.
  constexpr uint64_t kUnseen = UINT64_MAX;
  std::vector<uint64_t> line_of_file(files.size(), kUnseen);
  std::unordered_map<std::string_view, uint64_t> line_of_missing;
  size_t next = 0;  // tables often list files in tree order: try the file after the last hit
  for (const LabelRow& row : version.table.rows) {
    const FileEntry* file = next < files.size() && files[next].path == row.path
                                ? &files[next]
                                : FindFile(files, row.path);
    uint64_t first_line;
    if (file != nullptr) {
      const size_t index = static_cast<size_t>(file - files.data());
      next = index + 1;
      first_line = line_of_file[index];
      if (first_line == kUnseen) line_of_file[index] = row.line;
    } else {
      auto [it, fresh] = line_of_missing.emplace(row.path, row.line);
      first_line = fresh ? kUnseen : it->second;
    }
    if (first_line != kUnseen) {
      version.problems.push_back({ProblemKind::kDuplicatePath, row.line, row.path,
                                  "path already listed on line " + std::to_string(first_line)});
      continue;
    }
    if (file == nullptr) {
      version.problems.push_back(
          {ProblemKind::kMissing, row.line, row.path, "no such file in " + where});
      continue;
    }
    version.samples.push_back({row.path, row.label, file->id, file->size, row.line});
  }
  return version;
}

Result<std::vector<DatasetVersion>> LoadDatasets(History& history, const ObjectStore& store,
                                                 const std::vector<std::string>& revs,
                                                 const std::string& table_path,
                                                 const TableOptions& options) {
  std::vector<Result<DatasetVersion>> loaded(revs.size(), Status::OK());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < revs.size(); ++i) {
    threads.emplace_back([&, i] {
      Status thrown = CatchExceptions("loading " + revs[i], [&] {
        Result<std::unique_ptr<History>> own = History::Open(history.path());
        loaded[i] = own.ok() ? LoadDataset(**own, store, revs[i], table_path, options)
                             : Result<DatasetVersion>(own.status());
        return Status::OK();
      });
      if (!thrown.ok()) loaded[i] = thrown;
    });
  }
  if (!revs.empty()) loaded[0] = LoadDataset(history, store, revs[0], table_path, options);
  for (std::thread& t : threads) t.join();
  std::vector<DatasetVersion> out;
  for (auto& r : loaded) {
    VREPO_RETURN_IF_ERROR(r.status());
    out.push_back(std::move(*r));
  }
  return out;
}

std::string SampleDigestOf(const DatasetVersion& version) {
  std::vector<const Sample*> sorted;
  sorted.reserve(version.samples.size());
  for (const Sample& s : version.samples) sorted.push_back(&s);
  auto by_path = [](const Sample* a, const Sample* b) { return a->path < b->path; };
  if (!std::is_sorted(sorted.begin(), sorted.end(), by_path)) {
    std::sort(sorted.begin(), sorted.end(), by_path);
  }
  SampleDigestWriter writer;
  for (const Sample* s : sorted) writer.Add(s->path, s->id, s->label);
  return writer.Finish();
}

Result<CheckReport> CheckDataset(const DatasetVersion& version, const ObjectStore& store,
                                 Reporter* reporter) {
  CheckReport report;
  report.rows = version.table.rows.size();
  report.problems = version.problems;
  const auto& samples = version.samples;
  for (const Sample& s : samples) {
    if (s.label.empty()) {
      report.problems.push_back({ProblemKind::kEmptyLabel, s.line, s.path, "empty label"});
    }
  }

  // Decode each distinct content once; a bad one is reported on every row that names it.
  const ContentGroups groups = GroupByContent(samples);
  const std::vector<size_t>& firsts = groups.first;
  std::vector<std::string> decode_error(firsts.size());
  std::atomic<uint64_t> decoded{0};
  ReportedStep progress(reporter, "checking images", firsts.size());
  ThreadPool pool;
  VREPO_RETURN_IF_ERROR(
      store.GetMany(ContentIdsOf(samples, firsts), pool, [&](size_t i, std::string_view bytes) {
        Result<DecodedImage> image = DecodeImage(bytes, samples[firsts[i]].path);
        if (!image.ok()) decode_error[i] = image.status().message();
        decoded.fetch_add(1);
        progress.Advance();
      }));
  progress.End();
  report.images_decoded = decoded.load();

  // One content under two labels: flag the contents first, then list their samples.
  std::vector<bool> conflicted(firsts.size(), false);
  for (size_t i = 0; i < samples.size(); ++i) {
    const uint32_t k = groups.slot[i];
    if (samples[i].label != samples[firsts[k]].label) conflicted[k] = true;
    if (!decode_error[k].empty()) {
      report.problems.push_back(
          {ProblemKind::kBadImage, samples[i].line, samples[i].path, decode_error[k]});
    }
  }
  std::unordered_map<uint32_t, std::vector<const Sample*>> conflict_groups;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (conflicted[groups.slot[i]]) conflict_groups[groups.slot[i]].push_back(&samples[i]);
  }
  for (const auto& [slot, group] : conflict_groups) {
    for (const Sample* s : group) {
      std::string others;
      for (const Sample* o : group) {
        if (o == s || o->label == s->label) continue;
        if (!others.empty()) others += ", ";
        others += o->path + " (line " + std::to_string(o->line) + ") labeled '" + o->label + "'";
      }
      report.problems.push_back({ProblemKind::kLabelConflict, s->line, s->path,
                                 "labeled '" + s->label + "' but the same image is " + others});
    }
  }
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const DatasetProblem& a, const DatasetProblem& b) {
                     return std::tie(a.line, a.path) < std::tie(b.line, b.path);
                   });
  return report;
}

Result<DatasetStats> ComputeStats(const DatasetVersion& version, const ObjectStore& store) {
  DatasetStats stats;
  const auto& samples = version.samples;
  stats.samples = samples.size();
  const ContentGroups groups = GroupByContent(samples);
  const std::vector<size_t>& firsts = groups.first;
  stats.distinct_images = firsts.size();
  // Per distinct content: its header, probed in parallel (format kUnknown: unreadable).
  std::vector<ImageInfo> info_of(firsts.size());
  ThreadPool pool;
  VREPO_RETURN_IF_ERROR(
      store.GetMany(ContentIdsOf(samples, firsts), pool, [&](size_t i, std::string_view bytes) {
        Result<ImageInfo> info = ProbeImage(bytes, samples[firsts[i]].path);
        if (info.ok()) info_of[i] = *info;
      }));
  std::vector<uint32_t> uses(firsts.size(), 0);
  std::unordered_map<std::string_view, uint64_t> per_label;
  for (size_t i = 0; i < samples.size(); ++i) {
    stats.bytes += samples[i].size;
    ++per_label[samples[i].label];
    ++uses[groups.slot[i]];
  }
  for (const auto& [label, n] : per_label) stats.per_label[std::string(label)] = n;
  for (size_t k = 0; k < firsts.size(); ++k) {
    const bool readable = info_of[k].format != ImageFormat::kUnknown;
    stats.per_format[readable ? ImageFormatName(info_of[k].format) : "unreadable"] += uses[k];
  }
  CountShapes(info_of, uses, &stats);
  std::unordered_map<uint32_t, size_t> duplicate_index;
  for (size_t i = 0; i < samples.size(); ++i) {
    const uint32_t k = groups.slot[i];
    if (uses[k] < 2) continue;
    auto [it, fresh] = duplicate_index.emplace(k, stats.duplicates.size());
    if (fresh) stats.duplicates.push_back({samples[i].id, {}});
    stats.duplicates[it->second].paths.push_back(samples[i].path);
  }
  stats.sample_digest = SampleDigestOf(version);
  return stats;
}

Status CheckSplitOptions(const SplitOptions& options) {
  const size_t k = options.ratios.size();
  if (k == 0) return Status::InvalidArgument("--ratios: give at least one ratio");
  if (options.names.size() != k) {
    return Status::InvalidArgument("--names: " + std::to_string(options.names.size()) +
                                   " names for " + std::to_string(k) + " ratios");
  }
  double sum = 0;
  for (double r : options.ratios) {
    if (!(r > 0) || !std::isfinite(r)) {
      return Status::InvalidArgument("--ratios: every ratio must be positive");
    }
    sum += r;
  }
  if (std::fabs(sum - 1.0) > 1e-6) {
    return Status::InvalidArgument("--ratios: ratios sum to " + std::to_string(sum) + ", not 1");
  }
  return Status::OK();
}

Result<std::vector<size_t>> AssignSplits(const LabelTable& table, const SplitOptions& options,
                                         const std::map<std::string, size_t>& previous) {
  VREPO_RETURN_IF_ERROR(CheckSplitOptions(options));
  const size_t k = options.ratios.size();
  std::vector<double> bounds(k);
  double acc = 0;
  for (size_t i = 0; i < k; ++i) bounds[i] = acc += options.ratios[i];
  bounds[k - 1] = 1.0;

  const size_t n = table.rows.size();
  std::vector<double> hash(n);
  ThreadPool pool;
  VREPO_RETURN_IF_ERROR(pool.ParallelFor(
      n, [&](size_t i) { hash[i] = SplitHash(options.seed, table.rows[i].path); }));
  std::vector<size_t> assignment(n);
  if (!options.stratify) {
    for (size_t i = 0; i < n; ++i) {
      assignment[i] = std::upper_bound(bounds.begin(), bounds.end(), hash[i]) - bounds.begin();
      if (assignment[i] >= k) assignment[i] = k - 1;
    }
    return assignment;
  }

  // Per class: keep earlier assignments, then hand out the new rows in hash order, each to
  // the split furthest below its share of the class so far.
  std::map<std::string_view, std::vector<size_t>> rows_of_label;
  for (size_t i = 0; i < n; ++i) rows_of_label[table.rows[i].label].push_back(i);
  for (auto& [label, rows] : rows_of_label) {
    std::vector<uint64_t> count(k, 0);
    std::vector<size_t> fresh;
    for (size_t i : rows) {
      auto it = previous.find(table.rows[i].path);
      if (it != previous.end() && it->second < k) {
        assignment[i] = it->second;
        ++count[it->second];
      } else {
        fresh.push_back(i);
      }
    }
    std::sort(fresh.begin(), fresh.end(), [&](size_t a, size_t b) {
      return hash[a] != hash[b] ? hash[a] < hash[b] : table.rows[a].path < table.rows[b].path;
    });
    uint64_t total = rows.size() - fresh.size();
    for (size_t i : fresh) {
      ++total;
      size_t best = 0;
      double best_deficit = -1e300;
      for (size_t s = 0; s < k; ++s) {
        double deficit =
            options.ratios[s] * static_cast<double>(total) - static_cast<double>(count[s]);
        if (deficit > best_deficit + 1e-12) {
          best_deficit = deficit;
          best = s;
        }
      }
      assignment[i] = best;
      ++count[best];
    }
  }
  return assignment;
}

DatasetDiff DiffDatasets(const DatasetVersion& from, const DatasetVersion& to) {
  DatasetDiff diff;
  auto by_path = [](const DatasetVersion& v) {
    std::vector<const Sample*> sorted;
    sorted.reserve(v.samples.size());
    for (const Sample& s : v.samples) sorted.push_back(&s);
    std::sort(sorted.begin(), sorted.end(),
              [](const Sample* a, const Sample* b) { return a->path < b->path; });
    return sorted;
  };
  const std::vector<const Sample*> a = by_path(from), b = by_path(to);
  for (const Sample* s : a) ++diff.per_label[s->label].before;
  for (const Sample* s : b) ++diff.per_label[s->label].after;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int order = i == a.size() ? 1 : j == b.size() ? -1 : a[i]->path.compare(b[j]->path);
    if (order < 0) {
      diff.changes.push_back(
          {SampleChangeKind::kRemoved, a[i]->path, a[i]->label, "", a[i]->id, std::nullopt});
      ++diff.per_label[a[i]->label].removed;
      ++i;
    } else if (order > 0) {
      diff.changes.push_back(
          {SampleChangeKind::kAdded, b[j]->path, "", b[j]->label, std::nullopt, b[j]->id});
      ++diff.per_label[b[j]->label].added;
      ++j;
    } else {
      const Sample& old_s = *a[i++];
      const Sample& new_s = *b[j++];
      const bool relabeled = old_s.label != new_s.label;
      const bool changed = old_s.id != new_s.id;
      if (!relabeled && !changed) {
        ++diff.unchanged;
        continue;
      }
      SampleChangeKind kind = relabeled && changed ? SampleChangeKind::kRelabeledAndChanged
                              : relabeled          ? SampleChangeKind::kRelabeled
                                                   : SampleChangeKind::kContentChanged;
      diff.changes.push_back({kind, new_s.path, old_s.label, new_s.label, old_s.id, new_s.id});
      if (relabeled) {
        ++diff.per_label[old_s.label].relabeled_out;
        ++diff.per_label[new_s.label].relabeled_in;
      }
      if (changed) ++diff.per_label[new_s.label].content_changed;
    }
  }
  if (from.table.format == TableFormat::kFolder && to.table.format == TableFormat::kFolder) {
    PairClassMoves(to.table, &diff);
  }
  return diff;
}

}  // namespace vrepo
