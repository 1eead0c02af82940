#include "vrepo/runs/run_summary.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <utility>

#include "vrepo/util/text.h"

namespace vrepo::runs {
namespace {

using json = nlohmann::json;

constexpr const char* kSummaryRunsPrefix = "refs/runs/";
// Records arrive by clone from strangers (docs/security.md): bounded before they are parsed.
constexpr size_t kMaxSummaryJsonBytes = 64 << 20;
constexpr int kMaxSummaryJsonDepth = 16;
constexpr size_t kMaxSummaryMetricsBytes = 256 << 20;
constexpr size_t kMaxSummaryMetricRows = 1'000'000;
constexpr size_t kMaxSummaryFieldBytes = 4096;

// The value at `ptr` in `j`, or nullptr when absent or null.
const json* FieldAt(const json& j, const char* ptr) {
  json::json_pointer p(ptr);
  if (!j.contains(p)) return nullptr;
  const json& v = j.at(p);
  return v.is_null() ? nullptr : &v;
}

// A short string field shown on terminals: a string, bounded, no control characters.
Status ReadText(const json& j, const char* ptr, const std::string& where, std::string* out) {
  const json* v = FieldAt(j, ptr);
  if (v == nullptr) return Status::OK();
  if (!v->is_string()) return Status::Corruption(where + ": " + ptr + " is not a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() > kMaxSummaryFieldBytes) {
    return Status::Corruption(where + ": " + ptr + " is longer than 4096 bytes");
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return Status::Corruption(where + ": " + ptr + " holds a control character");
    }
  }
  *out = s;
  return Status::OK();
}

Status CheckObject(const json& j, const char* ptr, const std::string& where) {
  const json* v = FieldAt(j, ptr);
  if (v != nullptr && !v->is_object()) {
    return Status::Corruption(where + ": " + ptr + " is not an object");
  }
  return Status::OK();
}

Status ReadCommitId(const json& j, const char* ptr, const std::string& where, std::string* out) {
  VREPO_RETURN_IF_ERROR(ReadText(j, ptr, where, out));
  if (!out->empty() && (out->size() != 40 || !IsLowerHex(*out))) {
    return Status::Corruption(where + ": " + ptr + " is not 40 hex digits");
  }
  return Status::OK();
}

// Scalar settings under `prefix` as JSON text; objects are flattened with '.', lists kept
// whole. Keys are escaped: they reach terminals.
void FlattenSettings(const json& v, const std::string& prefix,
                     std::map<std::string, std::string>* out) {
  if (v.is_object()) {
    for (const auto& [k, item] : v.items()) {
      FlattenSettings(item, prefix.empty() ? EscapeControl(k) : prefix + "." + EscapeControl(k),
                      out);
    }
  } else if (!prefix.empty()) {
    (*out)[prefix] = v.dump();
  }
}

// The numbers of one metrics row, nested objects flattened with '.'. Training rows
// (`strict`) hold only numbers and null (NaN); a script's lines may hold anything, and
// only their numbers count.
Status FlattenMetrics(const json& v, const std::string& prefix, bool strict,
                      const std::string& where, std::map<std::string, double>* out) {
  for (const auto& [k, item] : v.items()) {
    if (prefix.empty() && k == "per_class_accuracy") continue;  // a table of its own
    const std::string key = prefix.empty() ? EscapeControl(k) : prefix + "." + EscapeControl(k);
    if (item.is_object()) {
      VREPO_RETURN_IF_ERROR(FlattenMetrics(item, key, strict, where, out));
    } else if (item.is_number()) {
      const double x = item.get<double>();
      if (std::isfinite(x)) (*out)[key] = x;
    } else if (strict && !item.is_null()) {
      return Status::Corruption(where + ": '" + key + "' is not a number");
    }
  }
  return Status::OK();
}

// A command's `--name value` and `--name=value` arguments; a `--flag` followed by another
// option or nothing is "true". Numbers keep their text, other values become JSON strings.
void CommandConfig(const std::vector<std::string>& argv, std::map<std::string, std::string>* out) {
  auto as_json = [](const std::string& value) {
    json parsed = json::parse(value, nullptr, /*allow_exceptions=*/false);
    return parsed.is_number() ? parsed.dump() : json(value).dump();
  };
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") break;  // positional arguments follow
    if (arg.size() < 3 || arg.rfind("--", 0) != 0) continue;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      if (eq > 2) (*out)[EscapeControl(arg.substr(2, eq - 2))] = as_json(arg.substr(eq + 1));
    } else if (i + 1 < argv.size() && argv[i + 1].rfind("--", 0) != 0) {
      (*out)[EscapeControl(arg.substr(2))] = as_json(argv[++i]);
    } else {
      (*out)[EscapeControl(arg.substr(2))] = "true";
    }
  }
}

Status SummarizeTraining(const json& j, const std::string& where, RunSummary* s) {
  s->status = "completed";  // older records lack the word
  VREPO_RETURN_IF_ERROR(ReadText(j, "/status", where, &s->status));
  VREPO_RETURN_IF_ERROR(ReadText(j, "/model", where, &s->what));
  VREPO_RETURN_IF_ERROR(CheckObject(j, "/base", where));
  VREPO_RETURN_IF_ERROR(ReadText(j, "/base/spec", where, &s->base));
  if (const json* c = FieldAt(j, "/config")) {
    if (!c->is_object()) return Status::Corruption(where + ": /config is not an object");
    FlattenSettings(*c, "", &s->config);
    s->config.erase("name");  // the run's own name, a column of its own everywhere
  }
  if (const json* m = FieldAt(j, "/model")) s->config["model"] = m->dump();
  if (const json* seed = FieldAt(j, "/seed")) {
    if (!seed->is_number()) return Status::Corruption(where + ": /seed is not a number");
    s->config["seed"] = seed->dump();
  }
  if (const json* epochs = FieldAt(j, "/epochs")) {
    if (!epochs->is_array()) return Status::Corruption(where + ": /epochs is not a list");
    for (const json& e : *epochs) {
      if (!e.is_object()) {
        return Status::Corruption(where + ": /epochs holds a value that is not an object");
      }
      std::map<std::string, double> row;
      VREPO_RETURN_IF_ERROR(FlattenMetrics(e, "", /*strict=*/true, where + ": /epochs", &row));
      s->metrics.push_back(std::move(row));
    }
  }
  if (const json* classes = FieldAt(j, "/classes")) {
    if (!classes->is_array()) return Status::Corruption(where + ": /classes is not a list");
    for (const json& c : *classes) {
      if (!c.is_string()) {
        return Status::Corruption(where + ": /classes holds a value that is not a string");
      }
      s->classes.push_back(EscapeControl(c.get<std::string>()));
    }
  }
  if (const json* confusion = FieldAt(j, "/confusion")) {
    const bool table =
        confusion->is_array() &&
        std::all_of(confusion->begin(), confusion->end(), [](const json& row) {
          return row.is_array() && std::all_of(row.begin(), row.end(),
                                               [](const json& x) { return x.is_number_integer(); });
        });
    if (!table) return Status::Corruption(where + ": /confusion is not a table of counts");
    s->confusion = confusion->get<std::vector<std::vector<int64_t>>>();
  }
  return Status::OK();
}

Status SummarizeCommand(const json& j, std::string_view metrics_jsonl, const std::string& where,
                        RunSummary* s) {
  VREPO_RETURN_IF_ERROR(ReadText(j, "/status", where, &s->status));
  std::vector<std::string> argv;
  if (const json* command = FieldAt(j, "/command")) {
    if (!command->is_array()) return Status::Corruption(where + ": /command is not a list");
    for (const json& arg : *command) {
      if (!arg.is_string()) {
        return Status::Corruption(where + ": /command holds a value that is not a string");
      }
      argv.push_back(arg.get<std::string>());
    }
  }
  for (const std::string& arg : argv) {
    s->what += (s->what.empty() ? "" : " ") + QuotePath(arg, /*quote_spaces=*/true);
  }
  CommandConfig(argv, &s->config);
  if (metrics_jsonl.size() > kMaxSummaryMetricsBytes) {
    return Status::Corruption(where + ": metrics.jsonl is over the limit of 256 MiB");
  }
  size_t line_no = 0;
  for (std::string_view line : SplitLines(metrics_jsonl)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string at = where + ": metrics.jsonl line " + std::to_string(line_no);
    if (s->metrics.size() >= kMaxSummaryMetricRows) {
      return Status::Corruption(at + ": more than 1000000 rows");
    }
    if (JsonNestingPastLimit(line, kMaxSummaryJsonDepth) != std::string_view::npos) {
      return Status::Corruption(at + ": nests deeper than 16 levels");
    }
    json row = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object()) {
      return Status::Corruption(at + ": not a JSON object");
    }
    std::map<std::string, double> values;
    VREPO_RETURN_IF_ERROR(FlattenMetrics(row, "", /*strict=*/false, at, &values));
    s->metrics.push_back(std::move(values));
  }
  return Status::OK();
}

}  // namespace

const char* RunKindName(RunKind kind) { return kind == RunKind::kCommand ? "command" : "train"; }

bool LowerIsBetter(const std::string& metric) {
  const std::string leaf = metric.substr(metric.rfind('.') + 1);
  return metric.find("loss") != std::string::npos || metric.find("error") != std::string::npos ||
         leaf == "seconds";
}

std::optional<double> BestMetric(const RunSummary& run, const std::string& metric) {
  std::optional<double> best;
  const bool lower = LowerIsBetter(metric);
  for (const auto& row : run.metrics) {
    auto it = row.find(metric);
    if (it == row.end()) continue;
    if (!best || (lower ? it->second < *best : it->second > *best)) best = it->second;
  }
  return best;
}

std::optional<double> LastMetric(const RunSummary& run, const std::string& metric) {
  for (auto row = run.metrics.rbegin(); row != run.metrics.rend(); ++row) {
    if (auto it = row->find(metric); it != row->end()) return it->second;
  }
  return std::nullopt;
}

std::vector<std::string> MetricNames(const std::vector<RunSummary>& runs) {
  std::vector<std::string> names;
  for (const RunSummary& run : runs) {
    for (const auto& row : run.metrics) {
      for (const auto& [name, value] : row) {
        if (name != "epoch" && name != "step") names.push_back(name);
      }
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> DifferingSettings(const std::vector<RunSummary>& runs) {
  std::map<std::string, std::set<RunKind>> keys;
  for (const auto& s : runs) {
    for (const auto& [k, v] : s.config) keys[k].insert(s.kind);
  }
  std::vector<std::string> out;
  for (const auto& [k, kinds] : keys) {
    std::set<std::string> values;
    for (const auto& s : runs) {
      if (kinds.count(s.kind) == 0) continue;
      auto it = s.config.find(k);
      values.insert(it == s.config.end() ? std::string() : it->second);
    }
    if (values.size() > 1) out.push_back(k);
  }
  return out;
}

Result<json> ParseRunJson(std::string_view bytes, const std::string& where) {
  if (bytes.size() > kMaxSummaryJsonBytes) {
    return Status::Corruption(where + " is " + std::to_string(bytes.size()) +
                              " bytes, over the limit of " + std::to_string(kMaxSummaryJsonBytes));
  }
  if (JsonNestingPastLimit(bytes, kMaxSummaryJsonDepth) != std::string_view::npos) {
    return Status::Corruption(where + " nests deeper than " + std::to_string(kMaxSummaryJsonDepth) +
                              " levels");
  }
  json parsed = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Status::Corruption(where + " is not valid JSON");
  }
  return parsed;
}

Result<RunSummary> SummarizeRecord(const json& run_json, std::string_view metrics_jsonl,
                                   const std::string& where) {
  if (!run_json.is_object()) return Status::Corruption(where + ": run.json is not an object");
  RunSummary s;
  if (const json* format = FieldAt(run_json, "/format");
      format == nullptr || !format->is_number_integer() || format->get<int64_t>() < 1) {
    return Status::Corruption(where + ": /format is not a version number");
  }
  std::string kind;
  VREPO_RETURN_IF_ERROR(ReadText(run_json, "/kind", where, &kind));
  if (kind == "command") {
    s.kind = RunKind::kCommand;
  } else if (!kind.empty() && kind != "train") {
    return Status::Corruption(where + ": unknown kind '" + kind + "' (newer vrepo?)");
  }
  VREPO_RETURN_IF_ERROR(CheckObject(run_json, "/dataset", where));
  VREPO_RETURN_IF_ERROR(ReadText(run_json, "/dataset/rev", where, &s.dataset_rev));
  VREPO_RETURN_IF_ERROR(ReadCommitId(run_json, "/dataset/commit", where, &s.dataset_commit));
  if (const json* seconds = FieldAt(run_json, "/seconds")) {
    if (!seconds->is_number()) return Status::Corruption(where + ": /seconds is not a number");
    s.seconds = seconds->get<double>();
  }
  VREPO_RETURN_IF_ERROR(s.kind == RunKind::kCommand
                            ? SummarizeCommand(run_json, metrics_jsonl, where, &s)
                            : SummarizeTraining(run_json, where, &s));
  s.record = run_json;
  return s;
}

Result<std::string> ResolveRunCommit(Repository& repo, const std::string& id_or_name,
                                     std::string* name) {
  History& history = repo.history();
  std::string key = id_or_name;
  if (key.rfind("run:", 0) == 0) key = key.substr(4);
  if (key.rfind(kSummaryRunsPrefix, 0) == 0) key = key.substr(std::strlen(kSummaryRunsPrefix));
  const Status unknown = Status::NotFound("unknown run '" + id_or_name + "'");
  if (key.empty()) return unknown;
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, history.RefsWithPrefix(kSummaryRunsPrefix));
  for (const RefInfo& ref : refs) {
    if (ref.name == key) {
      if (name != nullptr) *name = ref.name;
      return ref.target;
    }
  }
  // A commit id: full or abbreviated (at least 4 hex digits, as git allows).
  if (key.size() < 4 || !IsLowerHex(key)) return unknown;
  auto commit = history.ResolveCommit(key);
  if (!commit.ok()) return unknown;
  std::string found;
  for (const RefInfo& ref : refs) {
    if (ref.target == *commit) found = ref.name;
  }
  if (found.empty()) {
    // No ref names it: a run only if its tree holds a record.
    auto files = history.ReadTree(*commit);
    if (!files.ok() || std::none_of(files->begin(), files->end(),
                                    [](const FileEntry& f) { return f.path == "run.json"; })) {
      return unknown;
    }
  }
  if (name != nullptr) *name = found;
  return *commit;
}

Result<RunSummary> ReadRunSummary(Repository& repo, const std::string& id_or_name) {
  std::string name;
  VREPO_ASSIGN_OR_RETURN(std::string commit, ResolveRunCommit(repo, id_or_name, &name));
  History& history = repo.history();
  const std::string where = "run " + (name.empty() ? commit.substr(0, 12) : name);
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(commit));
  VREPO_ASSIGN_OR_RETURN(std::vector<FileEntry> files, history.ReadTree(commit));
  auto read = [&](const char* path) -> Result<std::optional<std::string>> {
    for (const FileEntry& f : files) {
      if (f.path != path) continue;
      auto bytes = repo.store().Get(f.id);
      if (!bytes.ok()) return bytes.status().WithContext(where + ": " + path);
      return std::optional<std::string>(std::move(bytes).value());
    }
    return std::optional<std::string>();
  };
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> run_json, read("run.json"));
  if (!run_json) return Status::Corruption(where + ": no run.json in its tree");
  VREPO_ASSIGN_OR_RETURN(json parsed, ParseRunJson(*run_json, where + ": run.json"));
  std::optional<std::string> metrics;
  // Training runs keep their metrics in run.json; metrics.jsonl is a copy.
  if (parsed.value("kind", json()) == "command") {
    VREPO_ASSIGN_OR_RETURN(metrics, read("metrics.jsonl"));
  }
  VREPO_ASSIGN_OR_RETURN(RunSummary s, SummarizeRecord(parsed, metrics.value_or(""), where));
  s.name = name;
  s.commit = commit;
  s.time = info.time;
  return s;
}

Result<std::vector<RunSummary>> ListRunSummaries(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs,
                         repo.history().RefsWithPrefix(kSummaryRunsPrefix));
  std::vector<RunSummary> runs;
  for (const RefInfo& ref : refs) {
    VREPO_ASSIGN_OR_RETURN(RunSummary run, ReadRunSummary(repo, ref.name));
    runs.push_back(std::move(run));
  }
  std::stable_sort(runs.begin(), runs.end(), [](const RunSummary& a, const RunSummary& b) {
    return a.time != b.time ? a.time < b.time : a.name < b.name;
  });
  return runs;
}

}  // namespace vrepo::runs
