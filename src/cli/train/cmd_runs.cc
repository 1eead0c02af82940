// vrepo runs [--json] | runs show ID | runs table | runs compare ID ID... | runs plot ID... |
// runs export ID DIR | runs rm ID: the recorded runs, of vrepo train and of vrepo run (read
// through runs::RunSummary, so that both kinds list, compare and plot alike). All but rm
// open the repository without the writer lock.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "train_cli.h"
#include "vrepo/dataset/label_table.h"
#include "vrepo/runs/run_summary.h"
#include "vrepo/train/plots.h"
#include "vrepo/util/file.h"

namespace vrepo::cli {
namespace {

using json = nlohmann::json;
using runs::RunKind;
using runs::RunSummary;

// A JSON value on one line, strings without their quotes and with control characters
// escaped: records arrive by clone.
std::string Show(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return EscapeControl(v.get<std::string>());
  return v.dump();
}

// A summary's config value (JSON text) as Show prints it.
std::string ShowSetting(const std::string& json_text) {
  return Show(json::parse(json_text, nullptr, /*allow_exceptions=*/false));
}

// Metrics in tables: four significant digits, "-" when absent.
std::string ShowMetric(std::optional<double> v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", *v);
  return buf;
}

json MetricJson(std::optional<double> v) { return v ? json(*v) : json(); }

// `text` cut to `width` characters, ending in "..." when cut.
std::string ClipText(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 3) + "...";
}

Result<std::vector<RunSummary>> ReadSummaries(Repository& repo,
                                              const std::vector<std::string>& ids) {
  if (ids.empty()) return runs::ListRunSummaries(repo);
  std::vector<RunSummary> out;
  for (const std::string& id : ids) {
    VREPO_ASSIGN_OR_RETURN(RunSummary s, runs::ReadRunSummary(repo, id));
    out.push_back(std::move(s));
  }
  return out;
}

// A command run as --json prints it: run.json as recorded plus the fields RunJson adds.
Result<json> CommandRunJson(Repository& repo, const RunSummary& s) {
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, repo.history().GetCommit(s.commit));
  json out = s.record;
  out["name"] = s.DisplayName();
  out["commit"] = s.commit;
  out["ref"] = s.name.empty() ? json() : json("refs/runs/" + s.name);
  out["date"] = FormatIsoDate(s.time, 0);
  out["time"] = s.time;
  out["parents"] = info.parents;
  return out;
}

// Either kind of run as --json prints it (docs/json.md, "run").
Result<json> AnyRunJson(Repository& repo, const RunSummary& s) {
  if (s.kind == RunKind::kCommand) return CommandRunJson(repo, s);
  VREPO_ASSIGN_OR_RETURN(train::RunRecord run, train::ReadRun(repo, s.commit));
  run.name = s.name;  // the ref it was listed by, when several point at the commit
  return RunJson(run);
}

int RunList(const Globals& g, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs", repo.status());
  auto all = runs::ListRunSummaries(**repo);
  if (!all.ok()) return Fail("runs", all.status());
  if (as_json) {
    json out = json::array();
    for (const auto& s : *all) {
      auto j = AnyRunJson(**repo, s);
      if (!j.ok()) return Fail("runs", j.status());
      out.push_back(std::move(j).value());
    }
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  if (all->empty()) {
    Print("no runs recorded (vrepo train and vrepo run record them)\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "COMMIT", "DATE", "KIND", "WHAT", "DATASET", "STATUS", "STEPS", "BEST VAL ACC"}};
  for (const auto& s : *all) {
    const auto best = runs::BestMetric(s, "val_accuracy");
    rows.push_back({s.DisplayName(), ShortId(s.commit), FormatIsoDate(s.time, 0).substr(0, 16),
                    runs::RunKindName(s.kind), ClipText(s.what, 40),
                    s.dataset_commit.empty() ? "-" : ShortId(s.dataset_commit), s.status,
                    std::to_string(s.metrics.size()),
                    best ? Fixed(100 * *best, 2) + "%" : std::string("-")});
  }
  PrintTable(rows);
  return kExitOk;
}

// The lines of a record's value under `key`, generically: scalars as "key: value", objects
// flattened to "key.sub: value", lists of scalars on one line, lists of objects one
// "k=v k=v" line each.
void RecordLines(const std::string& key, const json& v, std::string* out) {
  if (v.is_object()) {
    for (const auto& [k, item] : v.items()) RecordLines(key + "." + EscapeControl(k), item, out);
    return;
  }
  if (v.is_array() && std::any_of(v.begin(), v.end(),
                                  [](const json& x) { return x.is_object() || x.is_array(); })) {
    *out += key + ": " + std::to_string(v.size()) + "\n";
    for (const json& item : v) {
      std::string line;
      if (item.is_object()) {
        for (const auto& [k, x] : item.items()) {
          line += (line.empty() ? "" : " ") + EscapeControl(k) + "=" + Show(x);
        }
      } else {
        line = Show(item);
      }
      *out += "  " + line + "\n";
    }
    return;
  }
  if (v.is_array()) {
    std::string line;
    for (const json& item : v) line += (line.empty() ? "" : " ") + Show(item);
    *out += key + ": " + line + "\n";
    return;
  }
  *out += key + ": " + Show(v) + "\n";
}

int ShowCommandRun(Repository& repo, const RunSummary& s, bool as_json) {
  if (as_json) {
    auto j = CommandRunJson(repo, s);
    if (!j.ok()) return Fail("runs show", j.status());
    Print(j->dump(2) + "\n");
    return kExitOk;
  }
  auto files = repo.history().ReadTree(s.commit);
  if (!files.ok()) return Fail("runs show", files.status());
  std::string out = "run " + s.DisplayName() + "\ncommit " + s.commit + "\n";
  out += "date: " + FormatIsoDate(s.time, 0) + "\nkind: command (vrepo run)\n";
  out += "status: " + s.status + "\ncommand: " + s.what + "\n";
  for (const auto& [key, v] : s.record.items()) {
    if (key == "format" || key == "kind" || key == "name" || key == "status" || key == "command") {
      continue;
    }
    RecordLines(EscapeControl(key), v, &out);
  }
  out += "metrics: " + Counted(s.metrics.size(), "line");
  if (!s.metrics.empty()) {
    out += ", the last:";
    for (const auto& [name, value] : s.metrics.back()) out += " " + name + "=" + ShowMetric(value);
  }
  out += "\nfiles:\n";
  for (const FileEntry& f : *files) out += "  " + f.path + "\n";
  Print(out);
  return kExitOk;
}

int RunShow(const Globals& g, const std::string& id, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs show", repo.status());
  auto summary = runs::ReadRunSummary(**repo, id);
  if (!summary.ok()) return Fail("runs show", summary.status());
  if (summary->kind == RunKind::kCommand) return ShowCommandRun(**repo, *summary, as_json);
  auto run = train::ReadRun(**repo, id);
  if (!run.ok()) return Fail("runs show", run.status());
  const train::RunManifest& m = run->manifest;
  if (as_json) {
    Print(RunJson(*run).dump(2) + "\n");
    return kExitOk;
  }
  std::string out = "run " + run->DisplayName() + "\ncommit " + run->commit + "\n";
  out += "date: " + FormatIsoDate(run->time, 0) + "\n";
  out += std::string("status: ") + train::RunStatusName(m.status) + "\n";
  out += "dataset: commit " + m.dataset_commit + " tree " + m.dataset_tree + " (" + m.dataset_rev +
         ")\n";
  for (const auto& [split, rec] :
       {std::pair<const char*, const train::SplitRecord&>{"train", m.train}, {"val", m.val}}) {
    out += std::string(split) + ": " + rec.table + ", " + std::to_string(rec.samples) +
           " samples, digest " + rec.sample_digest + "\n";
  }
  out += "model: " + m.model;
  if (!m.base_spec.empty()) out += " from " + m.base_spec + " (content id " + m.base_model_id + ")";
  out += "\nweights: " + m.weights_path + " " + m.weights_id + "\n";
  out += "seed: " + std::to_string(m.seed) + ", device " + m.versions.device_name + "\n";
  out += "versions: vrepo " + m.versions.vrepo + " (" + m.versions.source_revision +
         "), libtorch " + m.versions.libtorch + ", CUDA " + m.versions.cuda + ", cuDNN " +
         m.versions.cudnn + "\n";
  out += "config:";
  const json config = train::ConfigToJson(m.config);  // items() must not outlive it
  for (const auto& [k, v] : config.items()) out += " " + k + "=" + Show(v);
  out += "\n";
  Print(out);
  std::vector<std::vector<std::string>> rows = {
      {"EPOCH", "TRAIN LOSS", "VAL LOSS", "VAL ACC", "LR", "IMG/S", "SECONDS"}};
  for (const auto& r : m.retain) rows[0].push_back("RETAIN " + r.name);
  for (const auto& e : m.epochs) {
    rows.push_back({std::to_string(e.epoch), Fixed(e.train_loss, 4), Fixed(e.val_loss, 4),
                    Fixed(100 * e.val_accuracy, 2) + "%", std::isnan(e.lr) ? "-" : Show(e.lr),
                    Fixed(e.images_per_second, 0), Fixed(e.seconds, 1)});
    for (const auto& r : m.retain) {
      auto it = e.retain.find(r.name);
      rows.back().push_back(it == e.retain.end() ? "-" : Fixed(100 * it->second.accuracy, 2) + "%");
    }
  }
  PrintTable(rows);
  Print("best epoch: " + std::to_string(m.best_epoch) + " (val acc " +
        Fixed(100 * m.best_val_accuracy, 2) + "%)\nfiles:\n");
  for (const auto& f : run->files) Print("  " + f.path + "\n");
  return kExitOk;
}

// ---- runs table ------------------------------------------------------------------------

struct RunFilter {
  std::string text;  // as given, for messages
  std::string name, op, value;
};

// "NAME OP VALUE" with OP one of = != < <= > >= (spaces around OP optional).
std::optional<RunFilter> ParseRunFilter(const std::string& text) {
  const size_t at = text.find_first_of("=!<>");
  if (at == std::string::npos) return std::nullopt;
  std::string op = text.substr(at, 1);
  if (at + 1 < text.size() && text[at + 1] == '=') op += '=';
  if (op == "!") return std::nullopt;
  auto trim = [](std::string s) {
    const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  RunFilter f{text, trim(text.substr(0, at)), op == "==" ? "=" : op,
              trim(text.substr(at + op.size()))};
  if (f.name.empty() || f.value.empty() || f.value.find_first_of("=!<>") == 0) return std::nullopt;
  return f;
}

std::optional<double> AsNumber(const std::string& text) {
  json v = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

// The value a filter or sort reads for `name`: status, kind and name, else a setting (its
// JSON text unquoted), else the metric's best value.
std::optional<std::string> FieldValue(const RunSummary& s, const std::string& name) {
  if (name == "status") return s.status;
  if (name == "kind") return std::string(runs::RunKindName(s.kind));
  if (name == "name") return s.DisplayName();
  if (auto it = s.config.find(name); it != s.config.end()) {
    json v = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    return v.is_string() ? v.get<std::string>() : it->second;
  }
  if (auto best = runs::BestMetric(s, name)) return json(*best).dump();
  return std::nullopt;
}

bool Holds(const RunFilter& f, const RunSummary& s) {
  const std::optional<std::string> have = FieldValue(s, f.name);
  if (!have) return false;  // a run without the value fails every filter on it
  const auto a = AsNumber(*have), b = AsNumber(f.value);
  int cmp;
  if (a && b) {
    cmp = *a < *b ? -1 : *a > *b ? 1 : 0;
  } else {
    cmp = have->compare(f.value);
    cmp = cmp < 0 ? -1 : cmp > 0 ? 1 : 0;
  }
  if (f.op == "=") return cmp == 0;
  if (f.op == "!=") return cmp != 0;
  if (f.op == "<") return cmp < 0;
  if (f.op == "<=") return cmp <= 0;
  if (f.op == ">") return cmp > 0;
  return cmp >= 0;
}

struct RunsTableArgs {
  std::vector<std::string> ids;
  std::string columns;
  std::string sort;
  std::vector<std::string> filters;
  bool json = false;
  bool csv = false;
};

int RunTable(const Globals& g, const RunsTableArgs& a) {
  const char* what = "runs table";
  if (a.json && a.csv) return FailWith(what, "--json and --csv exclude each other", kExitUsage);
  std::vector<RunFilter> filters;
  for (const std::string& text : a.filters) {
    auto f = ParseRunFilter(text);
    if (!f) {
      return FailWith(what,
                      "--filter '" + EscapeControl(text) +
                          "': expected NAME OP VALUE, OP one of = != < <= > >= (e.g. "
                          "'val_accuracy>=0.9', 'status=completed')",
                      kExitUsage);
    }
    filters.push_back(std::move(*f));
  }
  std::vector<std::string> columns;
  for (size_t start = 0; !a.columns.empty() && start <= a.columns.size();) {
    size_t comma = a.columns.find(',', start);
    if (comma == std::string::npos) comma = a.columns.size();
    if (comma > start) columns.push_back(a.columns.substr(start, comma - start));
    start = comma + 1;
  }

  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail(what, repo.status());
  auto all = ReadSummaries(**repo, a.ids);
  if (!all.ok()) return Fail(what, all.status());

  // Names are checked against every run read, so that a typo is an error, not an empty table.
  const std::vector<std::string> all_metrics = runs::MetricNames(*all);
  auto is_metric = [&](const std::string& n) {
    return std::binary_search(all_metrics.begin(), all_metrics.end(), n);
  };
  auto is_setting = [&](const std::string& n) {
    return std::any_of(all->begin(), all->end(),
                       [&](const RunSummary& s) { return s.config.count(n) > 0; });
  };
  auto known = [&](const std::string& kind, const std::string& n) -> std::optional<int> {
    if (is_metric(n) || is_setting(n)) return std::nullopt;
    return FailWith(what, kind + ": no run has a setting or metric '" + EscapeControl(n) + "'",
                    kExitUsage);
  };
  for (const RunFilter& f : filters) {
    if (f.name == "status" || f.name == "kind" || f.name == "name") continue;
    if (auto rc = known("--filter '" + EscapeControl(f.text) + "'", f.name)) return *rc;
  }
  for (const std::string& c : columns) {
    if (auto rc = known("--columns", c)) return *rc;
  }
  if (!a.sort.empty() && !is_metric(a.sort)) {
    std::string names;
    for (const auto& n : all_metrics) names += (names.empty() ? "" : ", ") + n;
    return FailWith(what,
                    "--sort: no run has a metric '" + EscapeControl(a.sort) +
                        "' (metrics: " + (names.empty() ? "none" : names) + ")",
                    kExitUsage);
  }

  std::vector<RunSummary> shown;
  for (const auto& s : *all) {
    if (std::all_of(filters.begin(), filters.end(),
                    [&](const RunFilter& f) { return Holds(f, s); })) {
      shown.push_back(s);  // a copy: the names above are checked against every run
    }
  }
  if (!a.sort.empty()) {
    const bool lower = runs::LowerIsBetter(a.sort);
    // Best first; runs without the metric last, in their order.
    std::stable_sort(shown.begin(), shown.end(), [&](const RunSummary& x, const RunSummary& y) {
      const auto bx = runs::BestMetric(x, a.sort), by = runs::BestMetric(y, a.sort);
      if (!bx || !by) return bx.has_value() && !by.has_value();
      return lower ? *bx < *by : *bx > *by;
    });
  }
  std::vector<std::string> settings, metrics;
  if (columns.empty()) {
    settings = runs::DifferingSettings(shown);
    // A training run's bookkeeping per epoch is left to --columns: it is no result.
    for (const std::string& m : runs::MetricNames(shown)) {
      if (m != "lr" && m != "backbone_lr" && m != "images_per_second" && m != "seconds") {
        metrics.push_back(m);
      }
    }
  } else {
    for (const std::string& c : columns) {
      if (is_setting(c)) settings.push_back(c);
      if (is_metric(c)) metrics.push_back(c);
    }
  }

  if (a.json) {
    json out = {{"settings", settings}, {"metrics", metrics}, {"runs", json::array()}};
    for (const RunSummary& s : shown) {
      json config = json::object(), values = json::object();
      for (const std::string& k : settings) {
        auto it = s.config.find(k);
        config[k] = it == s.config.end()
                        ? json()
                        : json::parse(it->second, nullptr, /*allow_exceptions=*/false);
      }
      for (const std::string& m : metrics) {
        values[m] = {{"best", MetricJson(runs::BestMetric(s, m))},
                     {"last", MetricJson(runs::LastMetric(s, m))}};
      }
      out["runs"].push_back({{"name", s.DisplayName()},
                             {"commit", s.commit},
                             {"kind", runs::RunKindName(s.kind)},
                             {"status", s.status},
                             {"dataset", {{"rev", s.dataset_rev}, {"commit", s.dataset_commit}}},
                             {"base", s.base},
                             {"what", s.what},
                             {"date", FormatIsoDate(s.time, 0)},
                             {"config", config},
                             {"metrics", values}});
    }
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows(1);
  if (a.csv) {
    rows[0] = {"name", "commit", "kind", "status", "dataset", "base"};
  } else {
    rows[0] = {"NAME", "KIND", "STATUS", "DATASET", "BASE"};
  }
  for (const auto& k : settings) rows[0].push_back(k);
  for (const auto& m : metrics) {
    rows[0].push_back("best " + m);
    rows[0].push_back("last " + m);
  }
  for (const RunSummary& s : shown) {
    std::vector<std::string> row = {s.DisplayName()};
    if (a.csv) row.push_back(s.commit);
    row.push_back(runs::RunKindName(s.kind));
    row.push_back(s.status.empty() ? "-" : s.status);
    row.push_back(s.dataset_commit.empty() ? "-"
                  : a.csv                  ? s.dataset_commit
                                           : ShortId(s.dataset_commit));
    row.push_back(s.base.empty() ? "-" : s.base);
    for (const auto& k : settings) {
      auto it = s.config.find(k);
      row.push_back(it == s.config.end() ? "-" : ShowSetting(it->second));
    }
    for (const auto& m : metrics) {
      row.push_back(ShowMetric(runs::BestMetric(s, m)));
      row.push_back(ShowMetric(runs::LastMetric(s, m)));
    }
    rows.push_back(std::move(row));
  }
  if (a.csv) {
    std::string out;
    for (const auto& row : rows) out += CsvLine(row) + "\n";
    Print(out);
  } else if (shown.empty()) {
    Print(all->empty() ? "no runs recorded (vrepo train and vrepo run record them)\n"
                       : "no run matches the filters\n");
  } else {
    PrintTable(rows);
  }
  return kExitOk;
}

// ---- runs compare ----------------------------------------------------------------------

// Flattens nested objects into "a.b" keys, so nested settings compare one by one.
void Flatten(const json& j, const std::string& prefix, std::map<std::string, json>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) Flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    (*out)[prefix] = j;
  }
}

// What a comparison lines up: the run's settings, from its summary and record.
std::map<std::string, json> CompareSettings(const RunSummary& s) {
  std::map<std::string, json> out;
  for (const auto& [k, v] : s.config) {
    out["config." + k] = json::parse(v, nullptr, /*allow_exceptions=*/false);
  }
  for (const char* key : {"dataset", "base", "versions", "code", "environment", "device"}) {
    if (s.record.contains(key)) Flatten(s.record[key], key, &out);
  }
  if (s.kind == RunKind::kCommand) out["command"] = s.what;
  return out;
}

// The record's hex digest at `ptr`, or "" when absent or not hex (records are untrusted).
std::string DigestAt(const RunSummary& s, const char* ptr) {
  json::json_pointer p(ptr);
  if (!s.record.contains(p) || !s.record.at(p).is_string()) return "";
  const std::string& v = s.record.at(p).get_ref<const std::string&>();
  return IsLowerHex(v) && v.size() <= 64 ? v : "";
}

// Column letters for the runs compared: A, B, ... Z, then R27, R28, ...
std::string RunLetter(size_t i) {
  return i < 26 ? std::string(1, static_cast<char>('A' + i)) : "R" + std::to_string(i + 1);
}

// The metric of row i, or null where the run has no such row or value.
json RowValue(const RunSummary& s, size_t i, const std::string& metric) {
  if (i >= s.metrics.size()) return json();
  auto it = s.metrics[i].find(metric);
  return it == s.metrics[i].end() ? json() : json(it->second);
}

// {"values": [...]} plus, for two runs, the "a", "b" and "diff" (b - a) that the two-run
// output has always had.
json CompareCell(const std::vector<RunSummary>& rs, size_t i, const std::string& metric) {
  json values = json::array();
  for (const auto& s : rs) values.push_back(RowValue(s, i, metric));
  json cell = {{"values", values}};
  if (rs.size() == 2) {
    cell["a"] = values[0];
    cell["b"] = values[1];
    if (values[0].is_number() && values[1].is_number()) {
      cell["diff"] = values[1].get<double>() - values[0].get<double>();
    }
  }
  return cell;
}

// Accuracies as percentages, other metrics as numbers.
std::string CompareText(const json& v, const std::string& metric) {
  if (!v.is_number()) return "-";
  const double x = v.get<double>();
  if (metric.ends_with("accuracy")) return Fixed(100 * x, 2) + "%";
  return Fixed(x, 4);
}

std::string MetricHeader(const std::string& metric) {
  if (metric == "val_accuracy") return "VAL ACC";
  std::string out;
  for (char c : metric)
    out += c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

int RunCompare(const Globals& g, const std::vector<std::string>& ids, bool as_json) {
  const char* what = "runs compare";
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail(what, repo.status());
  auto read = ReadSummaries(**repo, ids);
  if (!read.ok()) return Fail(what, read.status());
  const std::vector<RunSummary>& rs = *read;
  const size_t n = rs.size();

  std::vector<std::map<std::string, json>> flat;
  std::set<std::string> keys;
  for (const auto& s : rs) {
    flat.push_back(CompareSettings(s));
    for (const auto& [k, v] : flat.back()) keys.insert(k);
  }
  json settings = json::array();
  for (const auto& k : keys) {
    json values = json::array();
    for (const auto& f : flat) values.push_back(f.count(k) ? f.at(k) : json());
    if (std::all_of(values.begin(), values.end(), [&](const json& v) { return v == values[0]; })) {
      continue;
    }
    json entry = {{"key", k}, {"values", values}};
    if (n == 2) {
      entry["a"] = values[0];
      entry["b"] = values[1];
    }
    settings.push_back(entry);
  }
  json digests = json::object();
  for (const auto& [name, ptr] : std::vector<std::pair<const char*, const char*>>{
           {"train_sample_digest", "/splits/train/sample_digest"},
           {"val_sample_digest", "/splits/val/sample_digest"},
           {"weights_content_id", "/weights/content_id"}}) {
    std::vector<std::string> values;
    for (const auto& s : rs) values.push_back(DigestAt(s, ptr));
    if (std::all_of(values.begin(), values.end(), [](const std::string& v) { return v.empty(); })) {
      continue;  // no run has it (command runs)
    }
    const bool equal = std::all_of(values.begin(), values.end(),
                                   [&](const std::string& v) { return v == values[0]; });
    json d = {{"values", values}, {"equal", equal}};
    if (n == 2) {
      d["a"] = values[0];
      d["b"] = values[1];
    }
    digests[name] = d;
  }

  // The metrics lined up by row (epoch): a training run's three, and every metric of the
  // command runs (scripts name their own); retain sets ("retain.NAME.loss") in a table of
  // their own.
  std::vector<std::string> shown;
  for (const char* m : {"train_loss", "val_loss", "val_accuracy"}) {
    if (std::any_of(rs.begin(), rs.end(), [&](const RunSummary& s) {
          return s.kind == RunKind::kTrain && runs::LastMetric(s, m).has_value();
        })) {
      shown.push_back(m);
    }
  }
  std::vector<RunSummary> scripts;
  std::copy_if(rs.begin(), rs.end(), std::back_inserter(scripts),
               [](const RunSummary& s) { return s.kind == RunKind::kCommand; });
  for (const auto& m : runs::MetricNames(scripts)) {
    if (std::find(shown.begin(), shown.end(), m) == shown.end()) shown.push_back(m);
  }
  std::set<std::string> retain_names;
  for (const auto& m : runs::MetricNames(rs)) {
    if (m.starts_with("retain.") && (m.ends_with(".loss") || m.ends_with(".accuracy"))) {
      retain_names.insert(m.substr(7, m.rfind('.') - 7));
    }
  }
  size_t rows_count = 0;
  for (const auto& s : rs) rows_count = std::max(rows_count, s.metrics.size());
  json epochs = json::array();
  for (size_t i = 0; i < rows_count; ++i) {
    json row = {{"epoch", i + 1}};
    for (const auto& m : shown) row[m] = CompareCell(rs, i, m);
    json retain = json::object();
    for (const std::string& name : retain_names) {
      retain[name] = {{"loss", CompareCell(rs, i, "retain." + name + ".loss")},
                      {"accuracy", CompareCell(rs, i, "retain." + name + ".accuracy")}};
    }
    if (!retain_names.empty()) row["retain"] = retain;
    epochs.push_back(row);
  }
  json refs = json::array();
  for (const auto& s : rs) refs.push_back({{"name", s.DisplayName()}, {"commit", s.commit}});

  if (as_json) {
    json out = {{"runs", refs}, {"settings", settings}, {"digests", digests}, {"epochs", epochs}};
    if (n == 2) {
      out["a"] = refs[0];
      out["b"] = refs[1];
    }
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  std::string head;
  for (size_t i = 0; i < n; ++i) {
    head += RunLetter(i) + ": run " + rs[i].DisplayName() + " " + rs[i].commit + "\n";
  }
  Print(head + "\n");
  if (settings.empty()) {
    Print("settings: identical\n");
  } else {
    std::vector<std::vector<std::string>> rows = {{"SETTING"}};
    for (size_t i = 0; i < n; ++i) rows[0].push_back(RunLetter(i));
    for (const auto& s : settings) {
      rows.push_back({EscapeControl(s["key"].get<std::string>())});
      for (const auto& v : s["values"]) rows.back().push_back(Show(v));
    }
    PrintTable(rows);
  }
  if (!digests.empty()) {
    Print("\n");
    std::vector<std::vector<std::string>> rows = {{"DIGEST"}};
    for (size_t i = 0; i < n; ++i) rows[0].push_back(RunLetter(i));
    rows[0].push_back("");
    for (const auto& [name, d] : digests.items()) {
      rows.push_back({name});
      for (const auto& v : d["values"]) {
        rows.back().push_back(v.get<std::string>().empty() ? "-" : ShortId(v.get<std::string>()));
      }
      rows.back().push_back(d["equal"].get<bool>() ? "equal" : "differ");
    }
    PrintTable(rows);
  }
  if (!epochs.empty()) {
    Print("\n");
    std::vector<std::vector<std::string>> rows = {{"EPOCH"}};
    for (const auto& m : shown) {
      for (size_t i = 0; i < n; ++i) {
        rows[0].push_back(i == 0 ? MetricHeader(m) + " " + RunLetter(i) : RunLetter(i));
      }
    }
    const bool diff = n == 2 && std::count(shown.begin(), shown.end(), "val_accuracy") > 0;
    if (diff) rows[0].push_back("DIFF");
    for (const auto& e : epochs) {
      rows.push_back({std::to_string(e["epoch"].get<size_t>())});
      for (const auto& m : shown) {
        for (const auto& v : e[m]["values"]) rows.back().push_back(CompareText(v, m));
      }
      if (diff) {
        const json& acc = e["val_accuracy"];
        rows.back().push_back(acc.contains("diff")
                                  ? (acc["diff"].get<double>() >= 0 ? "+" : "") +
                                        Fixed(100 * acc["diff"].get<double>(), 2) + "%"
                                  : "-");
      }
    }
    PrintTable(rows);
  }
  if (!retain_names.empty()) {
    Print("\n");
    std::vector<std::vector<std::string>> rows = {{"EPOCH", "RETAIN"}};
    for (const char* m : {"LOSS", "ACC"}) {
      for (size_t i = 0; i < n; ++i) {
        rows[0].push_back(i == 0 ? std::string(m) + " " + RunLetter(i) : RunLetter(i));
      }
    }
    for (const auto& e : epochs) {
      for (const auto& [name, r] : e["retain"].items()) {
        rows.push_back({std::to_string(e["epoch"].get<size_t>()), EscapeControl(name)});
        for (const auto& v : r["loss"]["values"]) rows.back().push_back(CompareText(v, "loss"));
        for (const auto& v : r["accuracy"]["values"]) {
          rows.back().push_back(CompareText(v, "accuracy"));
        }
      }
    }
    PrintTable(rows);
  }
  return kExitOk;
}

// ---- runs plot -------------------------------------------------------------------------

// The metrics `runs plot` draws by default: validation accuracy and the losses (not the
// retain sets'), else every metric.
std::vector<std::string> DefaultPlotMetrics(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const char* m : {"val_accuracy", "accuracy"}) {
    if (std::binary_search(names.begin(), names.end(), m)) out.push_back(m);
  }
  for (const auto& m : names) {
    if (m.find("loss") != std::string::npos && !m.starts_with("retain.")) out.push_back(m);
  }
  if (out.empty()) out = names;
  return out;
}

int RunPlot(const Globals& g, const std::vector<std::string>& ids, const std::string& out_path,
            const std::vector<std::string>& wanted) {
  const char* what = "runs plot";
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail(what, repo.status());
  auto read = ReadSummaries(**repo, ids);
  if (!read.ok()) return Fail(what, read.status());
  const std::vector<RunSummary>& rs = *read;
  const std::vector<std::string> names = runs::MetricNames(rs);
  for (const auto& m : wanted) {
    if (!std::binary_search(names.begin(), names.end(), m)) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return FailWith(what,
                      "--metric: no run has a metric '" + EscapeControl(m) +
                          "' (metrics: " + (list.empty() ? "none" : list) + ")",
                      kExitUsage);
    }
  }
  const std::vector<std::string> metrics = wanted.empty() ? DefaultPlotMetrics(names) : wanted;
  if (metrics.empty()) {
    return FailWith(what, "the runs have no metrics to plot", kExitFailure);
  }
  const bool all_training = std::all_of(
      rs.begin(), rs.end(), [](const RunSummary& s) { return s.kind == RunKind::kTrain; });
  std::vector<train::LinePanel> panels;
  for (const std::string& m : metrics) {
    train::LinePanel panel;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < rs.size(); ++i) {
      train::PlotSeries series{rs[i].DisplayName(), {}, 0, 0, 0};
      train::SetPaletteColour(i, &series);
      for (const auto& row : rs[i].metrics) {
        auto it = row.find(m);
        series.values.push_back(it == row.end() ? NAN : it->second);
        if (it != row.end()) lo = std::min(lo, it->second), hi = std::max(hi, it->second);
      }
      panel.series.push_back(std::move(series));
    }
    panel.options.title = m;
    panel.options.y_title = m;
    panel.options.x_title = all_training ? "epoch" : "epoch or metrics line";
    // Losses from zero, so that their scale reads honestly; accuracies within 0..1.
    if (m.find("loss") != std::string::npos && lo >= 0) panel.options.y_min = 0;
    if (m.find("accuracy") != std::string::npos && lo >= 0 && hi <= 1) {
      panel.options.y_floor = 0;
      panel.options.y_ceiling = 1;
    }
    panels.push_back(std::move(panel));
  }
  auto png = train::PlotLinePanels(panels, panels.size() == 1 ? 1 : 2);
  if (!png.ok()) return Fail(what, png.status());
  const std::string target = out_path[0] == '/' ? out_path : g.cwd + "/" + out_path;
  if (Status st = WriteFileAtomic(target, *png, 0644, /*durable=*/false); !st.ok()) {
    return Fail(what, st);
  }
  Print("wrote " + out_path + ": " + Counted(metrics.size(), "metric") + " of " +
        Counted(rs.size(), "run") + "\n");
  return kExitOk;
}

// A run of either kind as far as rm and export need it: its ref, commit and files (a
// command run has no manifest; its record is checked by reading its summary).
Result<train::RunRecord> AnyRunRecord(Repository& repo, const std::string& id) {
  VREPO_ASSIGN_OR_RETURN(RunSummary s, runs::ReadRunSummary(repo, id));
  if (s.kind == RunKind::kTrain) return train::ReadRun(repo, id);
  train::RunRecord run;
  run.name = s.name;
  run.commit = s.commit;
  run.time = s.time;
  VREPO_ASSIGN_OR_RETURN(run.files, repo.history().ReadTree(s.commit));
  return run;
}

int RunRemove(const Globals& g, const std::vector<std::string>& ids) {
  auto repo = OpenRepository(g, /*write=*/true);
  if (!repo.ok()) return Fail("runs rm", repo.status());
  // Every run is found before any is removed, so a typo removes nothing.
  std::vector<train::RunRecord> runs;
  for (const auto& id : ids) {
    auto run = AnyRunRecord(**repo, id);
    if (!run.ok()) return Fail("runs rm", run.status());
    runs.push_back(std::move(run).value());
  }
  for (const auto& run : runs) {
    if (Status st = train::RemoveRun(**repo, run); !st.ok()) return Fail("runs rm", st);
    Print("removed run " + run.DisplayName() + " (was " + ShortId(run.commit) + ")\n");
  }
  return kExitOk;
}

int RunExport(const Globals& g, const std::string& id, const std::string& dir) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs export", repo.status());
  auto run = AnyRunRecord(**repo, id);
  if (!run.ok()) return Fail("runs export", run.status());
  const std::string target = dir[0] == '/' ? dir : g.cwd + "/" + dir;
  if (Status st = train::ExportRun(**repo, *run, target); !st.ok()) {
    return Fail("runs export", st);
  }
  Print("exported run " + run->DisplayName() + ": " + std::to_string(run->files.size()) +
        " files to " + dir + "\n");
  return kExitOk;
}

}  // namespace

Command RegisterRuns(CLI::App& app, Globals& g) {
  struct Opts {
    bool json = false;
    std::string show_id;
    std::vector<std::string> compare_ids;
    std::vector<std::string> rm_ids;
    std::string export_id, export_dir;
    RunsTableArgs table;
    std::vector<std::string> plot_ids, plot_metrics;
    std::string plot_out;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "runs",
      "List recorded runs, show one, tabulate, compare or plot them\n"
      "`vrepo runs` lists every run under refs/runs/, of `vrepo train` (KIND train, WHAT its "
      "model) and of `vrepo run` (KIND command, WHAT its command line): name, commit, date, "
      "dataset commit, status, epochs or metrics lines (STEPS), best validation accuracy. "
      "`runs show ID` prints one run's record; `runs table` one row per run with the settings "
      "that differ and each metric's best and last value; `runs compare A B [C...]` the "
      "settings that differ, whether sample digests and weights are equal, and the metrics of "
      "each epoch side by side; `runs plot ID... --out FILE.png` their curves overlaid. "
      "`runs export ID DIR` writes a run's files to a folder; `runs rm ID` removes a run. ID "
      "is a run name or a full or short commit id. All but rm are read-only: they never wait "
      "for a writer.");
  sub->require_subcommand(0, 1);
  sub->add_flag("--json", o->json, "Machine-readable output");
  CLI::App* show = sub->add_subcommand("show", "Print one run's record (run.json)");
  show->add_option("ID", o->show_id, "Run name or commit id")->required();
  show->add_flag("--json", o->json,
                 "Print the run as JSON: run.json with the name, commit, ref, date and parents "
                 "(the object `runs --json` and `train --json` give)");

  CLI::App* table = sub->add_subcommand(
      "table",
      "One row per run: name, kind, status, dataset commit, base, the settings that differ "
      "between the runs shown, and each metric's best and last value\n"
      "Settings are a training run's config (with model and seed) and a command run's "
      "--NAME VALUE arguments. A metric's best value is its lowest for losses, errors and "
      "seconds, else its highest. Examples: `vrepo runs table --sort val_accuracy`, "
      "`vrepo runs table --filter 'lr<0.01' --filter status=completed --csv`.");
  table->add_option("RUN", o->table.ids, "Runs to show (default: every run, oldest first)");
  table
      ->add_option("--columns", o->table.columns,
                   "Show these settings and metrics (comma-separated) instead of the settings "
                   "that differ and every metric")
      ->type_name("K,K...");
  table
      ->add_option("--sort", o->table.sort,
                   "Order by this metric's best value, best first (runs without it last)")
      ->type_name("METRIC");
  table
      ->add_option("--filter", o->table.filters,
                   "Keep runs where NAME OP VALUE holds (OP: = != < <= > >=; NAME: a setting, a "
                   "metric (its best value), status, kind or name; numbers compare as numbers). "
                   "Repeatable: all must hold")
      ->type_name("EXPR")
      ->allow_extra_args(false);
  auto* table_json = table->add_flag("--json", o->table.json, "Machine-readable output");
  table->add_flag("--csv", o->table.csv, "CSV with a header line, full commit ids")
      ->excludes(table_json);

  CLI::App* compare = sub->add_subcommand(
      "compare",
      "Compare runs side by side: the settings that differ, sample digests and weights, and "
      "each epoch's metrics (a command run's metrics lines), one column per run");
  compare->add_option("ID", o->compare_ids, "Two or more run names or commit ids")
      ->required()
      ->expected(2, 1 << 16);
  compare->add_flag("--json", o->json, "Machine-readable output");

  CLI::App* plot = sub->add_subcommand(
      "plot",
      "Draw runs' curves overlaid, one panel per metric with a legend naming each run, to a "
      "PNG\nDefault metrics: validation accuracy and the losses, where the runs have them.");
  plot->add_option("ID", o->plot_ids, "Run names or commit ids")->required();
  plot->add_option("--out,-o", o->plot_out, "The PNG file to write")
      ->required()
      ->type_name("FILE.png");
  plot->add_option("--metric", o->plot_metrics, "A metric to draw (repeatable)")
      ->type_name("NAME")
      ->allow_extra_args(false);

  CLI::App* rm = sub->add_subcommand(
      "rm",
      "Remove runs: deletes refs/runs/NAME; the objects stay until `vrepo gc`, and runs that "
      "started from it keep it as their base");
  rm->add_option("ID", o->rm_ids, "Run names or commit ids")->required();
  CLI::App* exp = sub->add_subcommand(
      "export",
      "Write a run's files (run.json, metrics.jsonl, model.safetensors, plots/) to DIR, a new "
      "or empty folder; the working tree and the repository are not touched");
  exp->add_option("ID", o->export_id, "Run name or commit id")->required();
  exp->add_option("DIR", o->export_dir, "Folder to write (created)")->required();
  return {sub, [&g, o, show, table, compare, plot, rm, exp] {
            if (show->parsed()) return RunShow(g, o->show_id, o->json);
            if (table->parsed()) return RunTable(g, o->table);
            if (compare->parsed()) return RunCompare(g, o->compare_ids, o->json);
            if (plot->parsed()) return RunPlot(g, o->plot_ids, o->plot_out, o->plot_metrics);
            if (rm->parsed()) return RunRemove(g, o->rm_ids);
            if (exp->parsed()) return RunExport(g, o->export_id, o->export_dir);
            return RunList(g, o->json);
          }};
}

}  // namespace vrepo::cli
