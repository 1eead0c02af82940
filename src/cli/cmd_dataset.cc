// vrepo dataset check|stats|split|diff, and the sample-level `vrepo diff --labels`.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "cli.h"
#include "table_source.h"
#include "vrepo/dataset/dataset.h"
#include "vrepo/dataset/split.h"
#include "vrepo/dataset/worktree_dataset.h"
#include "vrepo/util/file.h"

namespace vrepo::cli {
namespace {

// Options every dataset command shares.
struct TableArgs {
  std::string labels;
  TableOptions columns;
  bool json = false;
};

void AddTableOptions(CLI::App* sub, TableArgs* t) {
  sub->add_option("--labels", t->labels,
                  "The label table: a .csv or .jsonl file with a path and a label column, or a "
                  "folder laid out as FOLDER/CLASS/IMAGE (paths relative to the repository root)")
      ->required()
      ->type_name("TABLE");
  AddColumnOptions(sub, &t->columns);
  sub->add_flag("--json", t->json, "Machine-readable output");
}

// The table argument as a path relative to the repository root.
Result<std::string> TablePath(const Repository& repo, const Globals& g, const std::string& table) {
  VREPO_ASSIGN_OR_RETURN(auto paths, RepoPaths(repo, g, {table}));
  return paths[0];
}

// The table at `rev`, with a warning when the working tree's copy is not what is read.
Result<DatasetVersion> Load(Repository& repo, const Globals& g, const std::string& rev,
                            const TableArgs& t) {
  VREPO_ASSIGN_OR_RETURN(std::string table,
                         CommittedTablePath(repo, g, rev, t.labels, CliReporter()));
  auto version = LoadDataset(repo.history(), repo.store(), rev, table, t.columns);
  if (!version.ok()) return WithTableHint(version.status(), t.columns);
  return version;
}

void WriteVersionJson(JsonWriter& json, const DatasetVersion& v) {
  // Null for the staging index's or working tree's version.
  auto id_or_null = [&](const std::string& id) {
    if (id.empty()) {
      json.Null();
    } else {
      json.String(id);
    }
  };
  json.Key("commit");
  id_or_null(v.commit);
  json.Key("tree");
  id_or_null(v.tree);
  json.Key("table").String(v.table.source);
  json.Key("format").String(TableFormatName(v.table.format));
}

std::string ProblemLine(const DatasetVersion& v, const DatasetProblem& p) {
  std::string where = v.table.source;
  if (p.line > 0) where += ":" + std::to_string(p.line);
  // Paths and details come from a label table, which may be a stranger's.
  return QuotePath(where) + ": " + QuotePath(p.path) + ": " + ProblemKindName(p.kind) + ": " +
         EscapeControl(p.detail) + "\n";
}

int RunCheck(const Globals& g, const std::string& rev, const TableArgs& t) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("dataset check", repo.status());
  auto version = Load(**repo, g, rev, t);
  if (!version.ok()) return Fail("dataset check", version.status());
  auto report = CheckDataset(*version, (*repo)->store(), t.json ? nullptr : CliReporter());
  if (!report.ok()) return Fail("dataset check", report.status());
  if (t.json) {
    JsonWriter json;
    json.BeginObject();
    WriteVersionJson(json, *version);
    json.Key("rows").Uint(report->rows);
    json.Key("images_decoded").Uint(report->images_decoded);
    json.Key("ok").Bool(report->problems.empty());
    json.Key("problems").BeginArray();
    for (const auto& p : report->problems) {
      json.BeginObject();
      json.Key("problem").String(ProblemKindName(p.kind));
      json.Key("line").Uint(p.line);
      json.Key("path").String(p.path);
      json.Key("detail").String(p.detail);
      json.EndObject();
    }
    json.EndArray().EndObject();
    Print(json.str() + "\n");
  } else {
    for (const auto& p : report->problems) Print(ProblemLine(*version, p));
    Print(version->table.source + " at " + ShortId(version->commit) + ": " +
          std::to_string(report->rows) + " rows, " + std::to_string(report->images_decoded) +
          " images decoded, " + std::to_string(report->problems.size()) + " problem" +
          (report->problems.size() == 1 ? "" : "s") + "\n");
  }
  return report->problems.empty() ? kExitOk : kExitFailure;
}

// `counts`: (name, number) pairs, printed in their order under `title`, names aligned.
template <class Counts>
void PrintCounts(std::string_view title, const Counts& counts) {
  size_t width = 0;
  for (const auto& [k, n] : counts) width = std::max(width, QuotePath(k).size());
  std::string out = std::string(title) + ":\n";
  for (const auto& [k, n] : counts) {
    std::string name = QuotePath(k);
    out += "  " + name + std::string(width - name.size() + 2, ' ') + std::to_string(n) + "\n";
  }
  Print(out);
}

// How many of the most common image sizes stats lists by name.
constexpr size_t kShownShapes = 10;

// The most common sizes, then one line for the rest, then the ranges: a real dataset can
// have a size per image.
void PrintShapes(const DatasetStats& stats) {
  std::vector<std::pair<std::string, uint64_t>> rows;
  uint64_t other_samples = 0;
  for (size_t i = 0; i < stats.shapes.size(); ++i) {
    const ShapeCount& s = stats.shapes[i];
    if (i < kShownShapes) {
      rows.emplace_back(std::to_string(s.width) + "x" + std::to_string(s.height) + "x" +
                            std::to_string(s.channels),
                        s.samples);
    } else {
      other_samples += s.samples;
    }
  }
  if (stats.shapes.size() > kShownShapes) {
    rows.emplace_back(std::to_string(stats.shapes.size() - kShownShapes) + " other sizes",
                      other_samples);
  }
  PrintCounts("image sizes (width x height x channels), " + std::to_string(stats.shapes.size()) +
                  " distinct, most common first",
              rows);
  if (stats.shapes.empty()) return;
  const SizeRange& r = stats.sizes;
  Print("  width " + std::to_string(r.min_width) + ".." + std::to_string(r.max_width) +
        ", height " + std::to_string(r.min_height) + ".." + std::to_string(r.max_height) + "\n");
}

void WriteShapesJson(JsonWriter& json, const DatasetStats& stats) {
  json.Key("shapes").BeginArray();
  for (const ShapeCount& s : stats.shapes) {
    json.BeginObject().Key("width").Uint(s.width).Key("height").Uint(s.height);
    json.Key("channels").Uint(s.channels).Key("samples").Uint(s.samples).EndObject();
  }
  json.EndArray();
  const SizeRange& r = stats.sizes;
  json.Key("sizes").BeginObject();
  json.Key("min_width").Uint(r.min_width).Key("max_width").Uint(r.max_width);
  json.Key("min_height").Uint(r.min_height).Key("max_height").Uint(r.max_height);
  json.EndObject();
}

void WriteCountsJson(JsonWriter& json, std::string_view key,
                     const std::map<std::string, uint64_t>& counts) {
  json.Key(key).BeginObject();
  for (const auto& [k, n] : counts) json.Key(k).Uint(n);
  json.EndObject();
}

int RunStats(const Globals& g, const std::string& rev, const TableArgs& t) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("dataset stats", repo.status());
  auto version = Load(**repo, g, rev, t);
  if (!version.ok()) return Fail("dataset stats", version.status());
  auto stats = ComputeStats(*version, (*repo)->store());
  if (!stats.ok()) return Fail("dataset stats", stats.status());
  if (t.json) {
    JsonWriter json;
    json.BeginObject();
    WriteVersionJson(json, *version);
    json.Key("samples").Uint(stats->samples);
    json.Key("distinct_images").Uint(stats->distinct_images);
    json.Key("bytes").Uint(stats->bytes);
    json.Key("sample_digest").String(stats->sample_digest);
    json.Key("rows_without_sample").Uint(version->problems.size());
    WriteCountsJson(json, "labels", stats->per_label);
    WriteCountsJson(json, "formats", stats->per_format);
    WriteShapesJson(json, *stats);
    json.Key("duplicates").BeginArray();
    for (const auto& d : stats->duplicates) {
      json.BeginObject().Key("id").String(d.id.Hex()).Key("paths").BeginArray();
      for (const auto& p : d.paths) json.String(p);
      json.EndArray().EndObject();
    }
    json.EndArray().EndObject();
    Print(json.str() + "\n");
    return kExitOk;
  }
  std::ostringstream out;
  out << "commit " << version->commit << "\ntree   " << version->tree << "\ntable  "
      << version->table.source << " (" << TableFormatName(version->table.format) << ")\n"
      << "samples " << stats->samples << " (" << stats->distinct_images << " distinct images, "
      << stats->bytes << " bytes)\n"
      << "sample digest " << stats->sample_digest << "\n";
  if (!version->problems.empty()) {
    out << version->problems.size()
        << " rows name no file or repeat a path (see 'vrepo dataset check')\n";
  }
  Print(out.str());
  PrintCounts("labels", stats->per_label);
  PrintCounts("formats", stats->per_format);
  PrintShapes(*stats);
  std::string dups = "duplicate images: " + std::to_string(stats->duplicates.size()) + "\n";
  for (const auto& d : stats->duplicates) {
    dups += "  " + d.id.Hex().substr(0, 12) + ":";
    for (const auto& p : d.paths) dups += " " + QuotePath(p);
    dups += "\n";
  }
  Print(dups);
  return kExitOk;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

struct SplitArgs {
  TableArgs table;
  std::string ratios;
  std::string names;
  uint64_t seed = 0;
  bool stratify = false;
  std::string out_dir;
  std::string rev;
};

// Split reads a table file from the working tree unless --rev is given; a folder table, or
// a file that is not on disk, comes from a commit (SplitRequest::rev).
Result<std::string> SplitTablePath(Repository& repo, const Globals& g, const SplitArgs& a) {
  VREPO_ASSIGN_OR_RETURN(std::string table, TablePath(repo, g, a.table.labels));
  struct stat st;
  const std::string disk_path = JoinPath(repo.root(), table);
  if (a.rev.empty() && ::stat(disk_path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return table;
  return CommittedTablePath(repo, g, a.rev.empty() ? "HEAD" : a.rev, a.table.labels, CliReporter());
}

int RunSplit(const Globals& g, const SplitArgs& a) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("dataset split", repo.status());
  auto table_path = SplitTablePath(**repo, g, a);
  if (!table_path.ok()) return Fail("dataset split", table_path.status());
  SplitRequest request;
  request.table = *table_path;
  request.rev = a.rev;
  request.columns = a.table.columns;
  SplitOptions& options = request.options;
  options.seed = a.seed;
  options.stratify = a.stratify;
  for (const auto& r : SplitList(a.ratios)) {
    char* end = nullptr;
    double v = std::strtod(r.c_str(), &end);
    if (r.empty() || *end != '\0') {
      return FailWith("dataset split", "--ratios: '" + r + "' is not a number", kExitUsage);
    }
    options.ratios.push_back(v);
  }
  options.names = a.names.empty() ? std::vector<std::string>{} : SplitList(a.names);
  if (options.names.empty()) {
    static const char* kDefaults[] = {"train", "val", "test"};
    for (size_t i = 0; i < options.ratios.size(); ++i) {
      options.names.push_back(i < 3 ? kDefaults[i] : "part" + std::to_string(i + 1));
    }
  }
  if (Status valid = CheckSplitOptions(options); !valid.ok()) {
    return FailWith("dataset split", valid.message(), kExitFatal);
  }
  if (!a.out_dir.empty())
    request.out_dir = a.out_dir[0] == '/' ? a.out_dir : g.cwd + "/" + a.out_dir;
  auto parts = SplitTable(**repo, request);
  if (!parts.ok()) return Fail("dataset split", WithTableHint(parts.status(), request.columns));

  if (a.table.json) {
    JsonWriter json;
    json.BeginObject().Key("table").String(*table_path).Key("seed").Uint(a.seed);
    json.Key("stratify").Bool(a.stratify).Key("splits").BeginArray();
    for (const SplitPart& part : *parts) {
      std::map<std::string, uint64_t> per_label;
      for (const auto& row : part.table.rows) ++per_label[row.label];
      json.BeginObject().Key("name").String(part.name);
      json.Key("ratio").Double(part.ratio).Key("path").String(part.path);
      json.Key("rows").Uint(part.table.rows.size());
      WriteCountsJson(json, "labels", per_label);
      json.EndObject();
    }
    json.EndArray().EndObject();
    Print(json.str() + "\n");
  } else {
    for (const SplitPart& part : *parts) {
      Print(part.name + ": " + std::to_string(part.table.rows.size()) + " rows -> " + part.path +
            "\n");
    }
  }
  return kExitOk;
}

std::string LabelOrDash(const std::string& label) { return label.empty() ? "-" : QuotePath(label); }

// The two sides plain diff compares: no REV, the staging index and the working tree; one,
// REV and the working tree; two, both commits.
Result<std::vector<DatasetVersion>> LoadDiffSides(Repository& repo,
                                                  const std::vector<std::string>& revs,
                                                  const std::string& table,
                                                  const TableOptions& columns) {
  if (revs.size() == 2) return LoadDatasets(repo.history(), repo.store(), revs, table, columns);
  std::vector<DatasetVersion> sides(2);
  if (revs.empty()) {
    VREPO_ASSIGN_OR_RETURN(sides[0],
                           LoadUncommittedDataset(repo, UncommittedFiles::kIndex, table, columns));
  } else {
    VREPO_ASSIGN_OR_RETURN(sides[0],
                           LoadDataset(repo.history(), repo.store(), revs[0], table, columns));
  }
  VREPO_ASSIGN_OR_RETURN(sides[1],
                         LoadUncommittedDataset(repo, UncommittedFiles::kWorktree, table, columns));
  return sides;
}

}  // namespace

int RunDatasetDiff(const Globals& g, const std::vector<std::string>& revs,
                   const std::string& labels, const TableOptions& columns, bool json_out,
                   bool exit_code) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("diff", repo.status());
  auto table = TablePath(**repo, g, labels);
  if (!table.ok()) return Fail("diff", table.status());
  auto versions = LoadDiffSides(**repo, revs, *table, columns);
  if (!versions.ok()) return Fail("diff", WithTableHint(versions.status(), columns));
  const DatasetVersion* from = &(*versions)[0];
  const DatasetVersion* to = &(*versions)[1];
  DatasetDiff diff = DiffDatasets(*from, *to);
  const int code = exit_code && !diff.changes.empty() ? kExitFailure : kExitOk;
  if (json_out) {
    JsonWriter json;
    json.BeginObject();
    for (const DatasetVersion* side : {from, to}) {
      json.Key(side == from ? "from" : "to").BeginObject();
      WriteVersionJson(json, *side);
      if (side->commit.empty()) {
        json.Key("files").String(side == to ? "working tree" : "staging index");
      }
      json.Key("samples").Uint(side->samples.size());
      json.Key("sample_digest").String(SampleDigestOf(*side));
      json.EndObject();
    }
    json.Key("unchanged").Uint(diff.unchanged);
    json.Key("changes").BeginArray();
    for (const auto& c : diff.changes) {
      json.BeginObject().Key("status").String(SampleChangeKindName(c.kind));
      json.Key("path").String(c.path);
      if (c.old_id) json.Key("old_label").String(c.old_label).Key("old_id").String(c.old_id->Hex());
      if (c.new_id) json.Key("new_label").String(c.new_label).Key("new_id").String(c.new_id->Hex());
      if (!c.old_path.empty()) json.Key("old_path").String(c.old_path);
      json.EndObject();
    }
    json.EndArray().Key("labels").BeginObject();
    for (const auto& [label, n] : diff.per_label) {
      json.Key(label).BeginObject();
      json.Key("before").Uint(n.before).Key("after").Uint(n.after);
      json.Key("added").Uint(n.added).Key("removed").Uint(n.removed);
      json.Key("relabeled_in").Uint(n.relabeled_in).Key("relabeled_out").Uint(n.relabeled_out);
      json.Key("content_changed").Uint(n.content_changed);
      json.EndObject();
    }
    json.EndObject().EndObject();
    Print(json.str() + "\n");
    return code;
  }
  std::string out;
  uint64_t counts[5] = {};
  for (const auto& c : diff.changes) {
    ++counts[static_cast<int>(c.kind)];
    switch (c.kind) {
      case SampleChangeKind::kAdded:
        out += "A\t" + QuotePath(c.path) + "\t" + LabelOrDash(c.new_label) + "\n";
        break;
      case SampleChangeKind::kRemoved:
        out += "D\t" + QuotePath(c.path) + "\t" + LabelOrDash(c.old_label) + "\n";
        break;
      case SampleChangeKind::kRelabeled:
        out += "R\t" + QuotePath(c.path) + "\t" + LabelOrDash(c.old_label) + " -> " +
               LabelOrDash(c.new_label) + "\n";
        break;
      case SampleChangeKind::kContentChanged:
        out += "M\t" + QuotePath(c.path) + "\t" + LabelOrDash(c.new_label) + " (image changed)\n";
        break;
      case SampleChangeKind::kRelabeledAndChanged:
        out += "RM\t" + QuotePath(c.path) + "\t" + LabelOrDash(c.old_label) + " -> " +
               LabelOrDash(c.new_label) + " (image changed)\n";
        break;
    }
    if (out.size() > (1 << 20)) {
      Print(out);
      out.clear();
    }
  }
  // Relabeled-and-changed samples (kind 4) count under both.
  out += std::to_string(counts[0]) + " added, " + std::to_string(counts[1]) + " removed, " +
         std::to_string(counts[2] + counts[4]) + " relabeled, " +
         std::to_string(counts[3] + counts[4]) + " image changed, " +
         std::to_string(diff.unchanged) + " unchanged\n";
  char line[256];
  size_t width = 5;
  for (const auto& [label, n] : diff.per_label) width = std::max(width, QuotePath(label).size());
  std::snprintf(line, sizeof(line), "%-*s %8s %8s %8s %8s %8s %8s\n", static_cast<int>(width),
                "label", "before", "after", "added", "removed", "relabel+", "relabel-");
  out += line;
  for (const auto& [label, n] : diff.per_label) {
    std::snprintf(
        line, sizeof(line), "%-*s %8llu %8llu %8llu %8llu %8llu %8llu\n", static_cast<int>(width),
        QuotePath(label).c_str(), static_cast<unsigned long long>(n.before),
        static_cast<unsigned long long>(n.after), static_cast<unsigned long long>(n.added),
        static_cast<unsigned long long>(n.removed), static_cast<unsigned long long>(n.relabeled_in),
        static_cast<unsigned long long>(n.relabeled_out));
    out += line;
  }
  Print(out);
  return code;
}

Command RegisterDataset(CLI::App& app, Globals& g) {
  CLI::App* sub = app.add_subcommand(
      "dataset",
      "Check, describe, split and compare image-label datasets\n"
      "A dataset is a label table at a commit: a CSV or JSONL file with a path and a label "
      "column, or a folder laid out as FOLDER/CLASS/IMAGE. Images are read from the commit, "
      "never from the working tree; a warning says so when the table has changes there that "
      "are not committed.");
  sub->require_subcommand(1);

  struct Opts {
    std::string rev = "HEAD";
    TableArgs table;
    SplitArgs split;
    std::vector<std::string> diff_revs;
  };
  auto o = std::make_shared<Opts>();

  CLI::App* check = sub->add_subcommand(
      "check",
      "List every problem of a dataset version, with table line and path\n"
      "Rows naming no file of the commit, repeated paths, empty labels, images that do not "
      "decode, and one image content under two labels. Exits 1 when there is any problem.");
  check->add_option("REV", o->rev, "The commit to check")->capture_default_str();
  AddTableOptions(check, &o->table);

  CLI::App* stats = sub->add_subcommand(
      "stats",
      "Samples per label, image sizes and formats, duplicates, and the sample digest\n"
      "Image sizes: the 10 most common (width x height x channels), a count of the others, "
      "and the range of widths and heights; --json lists every size. The sample digest "
      "(SHA-256 over the sorted path, content id and label of every sample) is what training "
      "runs record.");
  stats->add_option("REV", o->rev, "The commit to describe")->capture_default_str();
  AddTableOptions(stats, &o->table);

  CLI::App* split = sub->add_subcommand(
      "split",
      "Write train/validation (/test) tables from a label table\n"
      "A row's split depends only on a hash of (seed, path), so the same input gives the same "
      "split and adding rows never moves an existing one. With --stratify every label is "
      "divided in the given ratios; rows already in the output tables keep their split. "
      "The table is read from the working tree (or from --rev; folder tables from HEAD), and "
      "TABLE.NAME.EXT files are written beside it.");
  AddTableOptions(split, &o->split.table);
  split->add_option("--ratios", o->split.ratios, "Comma-separated fractions summing to 1")
      ->required()
      ->type_name("R,R[,R]");
  split->add_option("--names", o->split.names, "Names of the splits [train,val,test]")
      ->type_name("N,N[,N]");
  split->add_option("--seed", o->split.seed, "Seed of the assignment hash")->capture_default_str();
  split->add_flag("--stratify", o->split.stratify, "Keep each label's share in every split");
  split->add_option("--out-dir", o->split.out_dir, "Where to write the tables")->type_name("DIR");
  split->add_option("--rev", o->split.rev, "Read the table from this commit");

  CLI::App* diff = sub->add_subcommand(
      "diff",
      "Sample-level differences between two commits: added, removed, relabeled, image "
      "changed\nKeyed by path; with one REV, compares it with HEAD. Same as "
      "'vrepo diff REV REV --labels TABLE'.");
  diff->add_option("REV", o->diff_revs, "One or two revisions")->expected(1, 2)->required();
  AddTableOptions(diff, &o->table);

  return {sub, [&g, o, check, stats, split, diff] {
            if (check->parsed()) return RunCheck(g, o->rev, o->table);
            if (stats->parsed()) return RunStats(g, o->rev, o->table);
            if (split->parsed()) return RunSplit(g, o->split);
            if (diff->parsed()) {
              // One REV compares with HEAD here: dataset commands read commits only.
              if (o->diff_revs.size() == 1) o->diff_revs.push_back("HEAD");
              return RunDatasetDiff(g, o->diff_revs, o->table.labels, o->table.columns,
                                    o->table.json);
            }
            return kExitUsage;
          }};
}

}  // namespace vrepo::cli
