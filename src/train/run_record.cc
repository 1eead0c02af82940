#include "vrepo/train/run_record.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

#include "vrepo/history/tree_name.h"
#include "vrepo/train/config.h"
#include "vrepo/util/text.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

constexpr const char* kRunsPrefix = "refs/runs/";

json MetricsJson(const EpochMetrics& m) {
  return json{{"epoch", m.epoch},
              {"train_loss", m.train_loss},
              {"val_loss", m.val_loss},
              {"val_accuracy", m.val_accuracy},
              {"per_class_accuracy", m.per_class_accuracy},
              {"images_per_second", m.images_per_second},
              {"seconds", m.seconds}};
}

// Run names become ref names and appear in commands: keep them to a plain, portable set.
Status CheckRunName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.' && name[0] != '-' &&
            name.find("..") == std::string::npos && name.back() != '.';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return Status::InvalidArgument("invalid run name '" + name +
                                   "' (letters, digits, '-', '_' and '.')");
  }
  if (name.ends_with(".lock")) {
    return Status::InvalidArgument("invalid run name '" + name + "' (ends in .lock)");
  }
  return Status::OK();
}

bool IsHex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
  });
}

// run.json arrives by clone like everything else: bounded before it is parsed, and checked
// field by field before any command reads it (docs/security.md).
constexpr size_t kMaxRunJsonBytes = 64 << 20;
constexpr int kMaxRunJsonDepth = 16;
constexpr size_t kMaxRunStringBytes = 4096;
constexpr size_t kMaxRunListLength = 1'000'000;

bool IsHexOfLength(const json& v, size_t n) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  return s.empty() || (s.size() == n && IsHex(s));
}

// Every string in `v` is short and free of control characters (they reach terminals through
// `runs show`), and every list is of a bounded length.
std::string CheckValues(const json& v, const std::string& where) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() > kMaxRunStringBytes) return where + " is longer than 4096 bytes";
    for (unsigned char c : s) {
      if (c < 0x20 || c == 0x7f) return where + " holds a control character";
    }
  } else if (v.is_array() || v.is_object()) {
    if (v.size() > kMaxRunListLength) return where + " has too many entries";
    for (const auto& [key, item] : v.items()) {
      std::string why = CheckValues(json(key), where + " key");
      if (why.empty()) why = CheckValues(item, where + "." + key);
      if (!why.empty()) return why;
    }
  }
  return "";
}

// The problem with `run`'s fields, or "": each field a reader uses has the type and form
// that RunJson writes (absent fields are allowed: older records lack some).
std::string CheckRunFields(const json& run) {
  std::string why = CheckValues(run, "run");
  if (!why.empty()) return why;
  auto at = [&](const char* ptr) -> const json* {
    json::json_pointer p(ptr);
    return run.contains(p) ? &run.at(p) : nullptr;
  };
  for (const char* ptr :
       {"/name", "/status", "/model", "/device", "/dataset/rev", "/splits/train/table",
        "/splits/val/table", "/base/spec", "/versions/vrepo", "/versions/source_revision",
        "/versions/libtorch", "/versions/cuda", "/versions/cudnn", "/weights/path"}) {
    if (const json* v = at(ptr); v && !v->is_string()) return std::string(ptr) + " is not a string";
  }
  for (const auto& [ptr, digits] : std::vector<std::pair<const char*, size_t>>{
           {"/dataset/commit", 40}, {"/dataset/tree", 40}, {"/base/run_commit", 40},
           {"/splits/train/sample_digest", 64}, {"/splits/val/sample_digest", 64},
           {"/base/model_content_id", 64}, {"/weights/content_id", 64}}) {
    if (const json* v = at(ptr); v && !IsHexOfLength(*v, digits)) {
      return std::string(ptr) + " is not " + std::to_string(digits) + " hex digits";
    }
  }
  if (const json* v = at("/weights/path"); v && *v != "model.safetensors") {
    return "/weights/path is not model.safetensors";
  }
  for (const char* ptr : {"/splits/train/table", "/splits/val/table"}) {
    const json* v = at(ptr);
    if (!v || v->get_ref<const std::string&>().empty()) continue;
    std::string_view rest = v->get_ref<const std::string&>();
    while (true) {
      size_t slash = rest.find('/');
      if (!UnsafeNameReason(rest.substr(0, slash)).empty()) {
        return std::string(ptr) + " is not a path in a tree";
      }
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
  }
  for (const char* ptr : {"/seed", "/best_epoch", "/splits/train/samples", "/splits/val/samples",
                          "/weights/size"}) {
    if (const json* v = at(ptr); v && !v->is_number_unsigned()) {
      return std::string(ptr) + " is not a whole number";
    }
  }
  for (const char* ptr : {"/best_val_accuracy", "/seconds", "/splits/val/split"}) {
    if (const json* v = at(ptr); v && !v->is_number()) return std::string(ptr) + " is not a number";
  }
  if (const json* v = at("/classes"); v) {
    if (!v->is_array()) return "/classes is not a list";
    for (const json& c : *v) {
      if (!c.is_string()) return "/classes holds a value that is not a string";
    }
  }
  if (const json* v = at("/config"); v) {
    auto config = ConfigFromJson(*v, "/config");
    if (!config.ok()) return config.status().message();
  }
  if (const json* v = at("/epochs"); v) {
    if (!v->is_array()) return "/epochs is not a list";
    for (const json& e : *v) {
      if (!e.is_object()) return "/epochs holds a value that is not an object";
      for (const auto& [key, value] : e.items()) {
        // NaN (no validation split) is written as null.
        bool ok = value.is_number() || value.is_null();
        if (key == "per_class_accuracy") {  // label -> accuracy
          ok = value.is_object() && std::all_of(value.begin(), value.end(), [](const json& x) {
                 return x.is_number() || x.is_null();
               });
        }
        if (!ok) return "/epochs: '" + key + "' is not a number";
      }
    }
  }
  if (const json* v = at("/confusion"); v) {
    if (!v->is_array()) return "/confusion is not a list";
    for (const json& row : *v) {
      if (!row.is_array() || !std::all_of(row.begin(), row.end(), [](const json& x) {
            return x.is_number_integer();
          })) {
        return "/confusion is not a table of counts";
      }
    }
  }
  return "";
}

}  // namespace

json RunJson(const TrainResult& r) {
  json epochs = json::array();
  for (const EpochMetrics& m : r.epochs) epochs.push_back(MetricsJson(m));
  const std::string weights_id = ContentId::Of(r.weights).Hex();
  return json{
      {"format", kRunFormatVersion},
      {"name", r.config.name},
      {"status", r.status},
      {"dataset", {{"rev", r.config.rev}, {"commit", r.dataset_commit}, {"tree", r.dataset_tree}}},
      {"splits",
       {{"train",
         {{"table", r.config.labels},
          {"samples", r.train_samples},
          {"sample_digest", r.train_digest}}},
        {"val",
         {{"table", r.config.val_labels.empty() ? r.config.labels : r.config.val_labels},
          {"split", r.config.val_labels.empty() ? r.config.val_split : 0.0},
          {"samples", r.val_samples},
          {"sample_digest", r.val_digest}}}}},
      {"classes", r.classes},
      {"model", r.config.model},
      {"base",
       {{"spec", r.config.base},
        {"model_content_id", r.base_model_id},
        {"run_commit", r.base_run_commit}}},
      {"config", ConfigToJson(r.config)},
      {"seed", r.config.seed},
      {"versions",
       {{"vrepo", r.versions.vrepo},
        {"source_revision", r.versions.source_revision},
        {"libtorch", r.versions.libtorch},
        {"cuda", r.versions.cuda},
        {"cudnn", r.versions.cudnn}}},
      {"device", r.versions.device_name},
      {"epochs", epochs},
      {"best_epoch", r.best_epoch},
      {"best_val_accuracy", r.best_epoch > 0 ? r.epochs[r.best_epoch - 1].val_accuracy : 0.0},
      {"confusion", r.confusion},
      {"weights",
       {{"path", "model.safetensors"}, {"content_id", weights_id}, {"size", r.weights.size()}}},
      {"seconds", r.seconds},
  };
}

Status CheckNewRunName(History& history, const std::string& name) {
  VREPO_RETURN_IF_ERROR(CheckRunName(name));
  if (history.ResolveCommit(kRunsPrefix + name).ok()) {
    return Status::InvalidArgument("run name '" + name + "' already exists");
  }
  return Status::OK();
}

Result<std::string> WriteRunRecord(
    Repository& repo, const TrainResult& result,
    const std::vector<std::pair<std::string, std::string>>& extra_files) {
  if (repo.read_only()) return Status::InvalidArgument("run record: repository opened read-only");
  History& history = repo.history();
  if (!result.config.name.empty()) {
    VREPO_RETURN_IF_ERROR(CheckNewRunName(history, result.config.name));
  }

  std::string metrics;
  for (const EpochMetrics& m : result.epochs) metrics += MetricsJson(m).dump() + "\n";
  std::vector<std::pair<std::string, std::string>> files = {
      {"run.json", RunJson(result).dump(2) + "\n"},
      {"metrics.jsonl", metrics},
      {"model.safetensors", result.weights},
  };
  for (const auto& f : extra_files) {
    if (f.first.empty() || f.first[0] == '/' || f.first.find("..") != std::string::npos) {
      return Status::InvalidArgument("run record: bad file name '" + f.first + "'");
    }
    files.push_back(f);
  }

  // Crash-safe order: the objects are durable before the commit names them, and the commit
  // exists before the ref points at it.
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, repo.store().NewWriter());
  std::vector<FileEntry> entries;
  for (const auto& [path, bytes] : files) {
    VREPO_ASSIGN_OR_RETURN(ContentId id, writer->Put(bytes));
    entries.push_back(FileEntry{path, id, bytes.size(), false});
  }
  VREPO_RETURN_IF_ERROR(writer->Commit(nullptr));
  VREPO_ASSIGN_OR_RETURN(std::string tree, history.WriteTree(entries));
  std::vector<std::string> parents = {result.dataset_commit};
  if (!result.base_run_commit.empty()) parents.push_back(result.base_run_commit);
  const std::string label = result.config.name.empty() ? "" : " " + result.config.name;
  VREPO_ASSIGN_OR_RETURN(
      std::string commit,
      history.CreateCommit(tree, parents,
                           "run" + label + ": " + result.config.model + " on " +
                               result.config.labels + " (" + result.status + ")"));
  const std::string name = result.config.name.empty() ? commit.substr(0, 12) : result.config.name;
  Status st = history.CreateRef(kRunsPrefix + name, commit);
  if (!st.ok()) {
    if (st.message().find("already exists") != std::string::npos) {
      return Status::InvalidArgument("run name '" + name + "' already exists");
    }
    return st;
  }
  return commit;
}

Result<RunRecord> ReadRun(Repository& repo, const std::string& id_or_name) {
  History& history = repo.history();
  std::string key = id_or_name;
  if (key.rfind("run:", 0) == 0) key = key.substr(4);
  if (key.rfind(kRunsPrefix, 0) == 0) key = key.substr(std::strlen(kRunsPrefix));
  const Status unknown = Status::NotFound("unknown run '" + id_or_name + "'");
  if (key.empty()) return unknown;

  RunRecord run;
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, history.RefsWithPrefix(kRunsPrefix));
  for (const RefInfo& ref : refs) {
    if (ref.name == key) {
      run.name = ref.name;
      run.commit = ref.target;
    }
  }
  if (run.commit.empty()) {
    // A commit id: full or abbreviated (at least 4 hex digits, as git allows).
    if (key.size() < 4 || !IsHex(key)) return unknown;
    auto commit = history.ResolveCommit(key);
    if (!commit.ok()) return unknown;
    run.commit = *commit;
    for (const RefInfo& ref : refs) {
      if (ref.target == run.commit) run.name = ref.name;
    }
  }
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(run.commit));
  run.parents = info.parents;
  run.time = info.time;
  VREPO_ASSIGN_OR_RETURN(run.files, history.ReadTree(run.commit));
  auto it = std::find_if(run.files.begin(), run.files.end(),
                         [](const FileEntry& f) { return f.path == "run.json"; });
  if (it == run.files.end()) {
    if (run.name.empty()) return unknown;  // some other commit
    return Status::Corruption("run " + run.commit.substr(0, 12) + ": no run.json in its tree");
  }
  auto bytes = repo.store().Get(it->id);
  if (!bytes.ok()) {
    return bytes.status().WithContext("run " + run.commit.substr(0, 12) + ": run.json");
  }
  const std::string where = "run " + run.commit.substr(0, 12) + ": run.json";
  if (bytes->size() > kMaxRunJsonBytes) {
    return Status::Corruption(where + " is " + std::to_string(bytes->size()) +
                              " bytes, over the limit of " + std::to_string(kMaxRunJsonBytes));
  }
  if (JsonNestingPastLimit(*bytes, kMaxRunJsonDepth) != std::string_view::npos) {
    return Status::Corruption(where + " nests deeper than " + std::to_string(kMaxRunJsonDepth) +
                              " levels");
  }
  run.run = json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (run.run.is_discarded() || !run.run.is_object()) {
    return Status::Corruption(where + " is not valid JSON");
  }
  if (!run.run.contains("format") || !run.run["format"].is_number_integer() ||
      run.run["format"].get<int>() > kRunFormatVersion) {
    return Status::Corruption(where + " has an unknown format (newer vrepo?)");
  }
  if (std::string why = CheckRunFields(run.run); !why.empty()) {
    return Status::Corruption(where + ": " + why);
  }
  return run;
}

Result<std::vector<RunRecord>> ListRuns(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, repo.history().RefsWithPrefix(kRunsPrefix));
  std::vector<RunRecord> runs;
  for (const RefInfo& ref : refs) {
    VREPO_ASSIGN_OR_RETURN(RunRecord run, ReadRun(repo, ref.name));
    runs.push_back(std::move(run));
  }
  std::stable_sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.time != b.time ? a.time < b.time : a.name < b.name;
  });
  return runs;
}

Result<std::string> ReadRunFile(Repository& repo, const RunRecord& run, const std::string& path) {
  for (const FileEntry& f : run.files) {
    if (f.path == path) {
      auto bytes = repo.store().Get(f.id);
      if (!bytes.ok()) {
        return bytes.status().WithContext("run " + run.commit.substr(0, 12) + ": " + path);
      }
      return std::move(bytes).value();
    }
  }
  return Status::NotFound("run " + run.commit.substr(0, 12) + ": no file '" + path + "'");
}

Result<std::string> ReadRunWeights(Repository& repo, const RunRecord& run) {
  return ReadRunFile(repo, run, "model.safetensors");
}

}  // namespace vrepo::train
