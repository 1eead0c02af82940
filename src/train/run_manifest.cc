#include "vrepo/train/run_manifest.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "vrepo/history/tree_name.h"
#include "vrepo/util/text.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

// run.json arrives by clone like everything else: bounded before it is parsed, and checked
// field by field before any command reads it (docs/security.md).
constexpr size_t kMaxRunStringBytes = 4096;
constexpr size_t kMaxRunListLength = 1'000'000;

bool IsHexOfLength(const json& v, size_t n) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  return s.empty() || (s.size() == n && IsLowerHex(s));
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
// that ToJson writes (absent fields are allowed: older records lack some).
std::string CheckRunFields(const json& run) {
  std::string why = CheckValues(run, "run");
  if (!why.empty()) return why;
  auto at = [&](const char* ptr) -> const json* {
    json::json_pointer p(ptr);
    return run.contains(p) ? &run.at(p) : nullptr;
  };
  for (const char* ptr : {"/name", "/status", "/model", "/device", "/dataset/rev",
                          "/splits/train/table", "/splits/val/table", "/base/spec",
                          "/versions/vrepo", "/versions/source_revision", "/versions/libtorch",
                          "/versions/cuda", "/versions/cudnn", "/versions/blas", "/weights/path"}) {
    if (const json* v = at(ptr); v && !v->is_string()) return std::string(ptr) + " is not a string";
  }
  for (const auto& [ptr, digits] :
       std::vector<std::pair<const char*, size_t>>{{"/dataset/commit", 40},
                                                   {"/dataset/tree", 40},
                                                   {"/base/run_commit", 40},
                                                   {"/base/model_commit", 40},
                                                   {"/splits/train/sample_digest", 64},
                                                   {"/splits/val/sample_digest", 64},
                                                   {"/base/model_content_id", 64},
                                                   {"/weights/content_id", 64}}) {
    if (const json* v = at(ptr); v && !IsHexOfLength(*v, digits)) {
      return std::string(ptr) + " is not " + std::to_string(digits) + " hex digits";
    }
  }
  if (const json* v = at("/weights/path");
      v && *v != "model.safetensors" && *v != "adapter.safetensors") {
    return "/weights/path is not model.safetensors or adapter.safetensors";
  }
  for (const char* ptr : {"/lora/rank", "/parameters/trainable", "/parameters/total"}) {
    if (const json* v = at(ptr); v && !v->is_number_unsigned()) {
      return std::string(ptr) + " is not a whole number";
    }
  }
  if (const json* v = at("/lora/alpha"); v && !v->is_number()) return "/lora/alpha is not a number";
  for (const char* ptr : {"/lora/targets", "/lora/layers"}) {
    const json* v = at(ptr);
    if (v && (!v->is_array() ||
              !std::all_of(v->begin(), v->end(), [](const json& x) { return x.is_string(); }))) {
      return std::string(ptr) + " is not a list of strings";
    }
  }
  if (const json* d = at("/distributed"); d && !d->is_null()) {
    const json* n = at("/distributed/world_size");
    if (!n || !n->is_number_unsigned() || n->get<uint64_t>() < 1 || n->get<uint64_t>() > 65536) {
      return "/distributed/world_size is not a number from 1 to 65536";
    }
    const size_t ranks = n->get<size_t>();
    if (const json* b = at("/distributed/backend"); !b || (*b != "gloo" && *b != "nccl")) {
      return "/distributed/backend is not gloo or nccl";
    }
    for (const char* ptr : {"/distributed/hosts", "/distributed/train_sample_digests"}) {
      const json* v = at(ptr);
      if (v && (!v->is_array() || v->size() != ranks ||
                !std::all_of(v->begin(), v->end(), [](const json& x) { return x.is_string(); }))) {
        return std::string(ptr) + " is not a list of strings, one per rank";
      }
    }
    if (const json* v = at("/distributed/train_sample_digests");
        v &&
        !std::all_of(v->begin(), v->end(), [](const json& x) { return IsHexOfLength(x, 64); })) {
      return "/distributed/train_sample_digests holds a digest that is not 64 hex digits";
    }
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
  for (const char* ptr :
       {"/seed", "/best_epoch", "/splits/train/samples", "/splits/val/samples", "/weights/size"}) {
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
        if (key == "retain") {  // retain set -> {loss, accuracy}
          ok = value.is_object() && std::all_of(value.begin(), value.end(), [](const json& x) {
                 return x.is_object() && std::all_of(x.begin(), x.end(), [](const json& y) {
                          return y.is_number() || y.is_null();
                        });
               });
        }
        if (!ok) return "/epochs: '" + key + "' is not a number";
      }
    }
  }
  if (const json* v = at("/retain"); v) {
    if (!v->is_array()) return "/retain is not a list";
    for (const json& r : *v) {
      if (!r.is_object()) return "/retain holds a value that is not an object";
      for (const char* key : {"name", "table", "head"}) {
        if (r.contains(key) && !r[key].is_string())
          return std::string("/retain: '") + key + "' is not a string";
      }
      if (r.contains("commit") && !IsHexOfLength(r["commit"], 40)) {
        return "/retain: 'commit' is not 40 hex digits";
      }
      if (r.contains("sample_digest") && !IsHexOfLength(r["sample_digest"], 64)) {
        return "/retain: 'sample_digest' is not 64 hex digits";
      }
      for (const char* key : {"samples", "skipped"}) {
        if (r.contains(key) && !r[key].is_number_unsigned()) {
          return std::string("/retain: '") + key + "' is not a whole number";
        }
      }
    }
  }
  if (const json* v = at("/confusion"); v) {
    if (!v->is_array()) return "/confusion is not a list";
    for (const json& row : *v) {
      if (!row.is_array() || !std::all_of(row.begin(), row.end(),
                                          [](const json& x) { return x.is_number_integer(); })) {
        return "/confusion is not a table of counts";
      }
    }
  }
  return "";
}

// The value at `ptr`, or null when absent (FromJson runs after CheckRunFields, so present
// values have the types read below).
const json& At(const json& j, const char* ptr) {
  static const json kNull;
  json::json_pointer p(ptr);
  return j.contains(p) ? j.at(p) : kNull;
}

std::string Str(const json& j, const char* ptr) {
  const json& v = At(j, ptr);
  return v.is_string() ? v.get<std::string>() : "";
}

template <class T>
T Num(const json& v, T fallback) {
  return v.is_number() ? v.get<T>() : fallback;
}

// NaN (no validation split) is stored as null.
double Metric(const json& v) { return v.is_number() ? v.get<double>() : NAN; }

}  // namespace

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kEarlyStopped:
      return "early-stopped";
    case RunStatus::kInterrupted:
      return "interrupted";
  }
  return "completed";
}

json EpochJson(const EpochMetrics& m) {
  json retain = json::object();
  for (const auto& [name, r] : m.retain)
    retain[name] = {{"loss", r.loss}, {"accuracy", r.accuracy}};
  return json{{"epoch", m.epoch},
              {"train_loss", m.train_loss},
              {"val_loss", m.val_loss},
              {"val_accuracy", m.val_accuracy},
              {"per_class_accuracy", m.per_class_accuracy},
              {"images_per_second", m.images_per_second},
              {"seconds", m.seconds},
              {"lr", m.lr},
              {"backbone_lr", m.backbone_lr},
              {"retain", retain}};
}

json ToJson(const RunManifest& r) {
  json epochs = json::array();
  for (const EpochMetrics& m : r.epochs) epochs.push_back(EpochJson(m));
  json retain = json::array();
  for (const RetainRecord& t : r.retain) {
    retain.push_back({{"name", t.name},
                      {"table", t.table},
                      {"commit", t.commit},
                      {"head", t.head},
                      {"samples", t.samples},
                      {"skipped", t.skipped},
                      {"sample_digest", t.sample_digest}});
  }
  json out = json{
      {"format", r.format},
      {"name", r.name},
      {"status", RunStatusName(r.status)},
      {"dataset", {{"rev", r.dataset_rev}, {"commit", r.dataset_commit}, {"tree", r.dataset_tree}}},
      {"splits",
       {{"train",
         {{"table", r.train.table},
          {"samples", r.train.samples},
          {"sample_digest", r.train.sample_digest}}},
        {"val",
         {{"table", r.val.table},
          {"split", r.val.split},
          {"samples", r.val.samples},
          {"sample_digest", r.val.sample_digest}}}}},
      {"classes", r.classes},
      {"model", r.model},
      {"base",
       {{"spec", r.base_spec},
        {"model_content_id", r.base_model_id},
        {"run_commit", r.base_run_commit},
        {"model_commit", r.base_model_commit}}},
      {"config", ConfigToJson(r.config)},
      {"seed", r.seed},
      {"versions",
       {{"vrepo", r.versions.vrepo},
        {"source_revision", r.versions.source_revision},
        {"libtorch", r.versions.libtorch},
        {"cuda", r.versions.cuda},
        {"cudnn", r.versions.cudnn},
        {"blas", r.versions.blas}}},
      {"device", r.versions.device_name},
      {"retain", retain},
      {"epochs", epochs},
      {"best_epoch", r.best_epoch},
      {"best_val_accuracy", r.best_val_accuracy},
      {"confusion", r.confusion},
      {"weights",
       {{"path", r.weights_path}, {"content_id", r.weights_id}, {"size", r.weights_size}}},
      {"seconds", r.seconds},
      {"parameters", {{"trainable", r.trainable_parameters}, {"total", r.total_parameters}}},
      {"lora", r.lora.rank == 0 ? json()
                                : json{{"rank", r.lora.rank},
                                       {"alpha", r.lora.alpha},
                                       {"targets", r.lora.targets},
                                       {"layers", r.lora.layers}}},
      {"distributed", r.distributed.world_size <= 1
                          ? json()
                          : json{{"world_size", r.distributed.world_size},
                                 {"backend", r.distributed.backend},
                                 {"hosts", r.distributed.hosts},
                                 {"train_sample_digests", r.distributed.train_digests}}},
  };
  if (!r.legacy_preprocessing) out["preprocessing"] = PreprocessingToJson(r.preprocessing);
  return out;
}

Result<RunManifest> FromJson(const json& j, const std::string& where) {
  if (!j.is_object()) return Status::Corruption(where + " is not valid JSON");
  if (!j.contains("format") || !j["format"].is_number_integer() ||
      j["format"].get<int>() > kRunFormatVersion) {
    return Status::Corruption(where + " has an unknown format (newer vrepo?)");
  }
  if (std::string why = CheckRunFields(j); !why.empty()) {
    return Status::Corruption(where + ": " + why);
  }
  RunManifest r;
  r.format = j["format"].get<int>();
  r.name = Str(j, "/name");
  // An absent or unknown word reads as completed, as before the states were typed.
  const std::string status = Str(j, "/status");
  for (RunStatus s : {RunStatus::kEarlyStopped, RunStatus::kInterrupted}) {
    if (status == RunStatusName(s)) r.status = s;
  }
  r.dataset_rev = Str(j, "/dataset/rev");
  r.dataset_commit = Str(j, "/dataset/commit");
  r.dataset_tree = Str(j, "/dataset/tree");
  r.train.table = Str(j, "/splits/train/table");
  r.train.samples = Num<uint64_t>(At(j, "/splits/train/samples"), 0);
  r.train.sample_digest = Str(j, "/splits/train/sample_digest");
  r.val.table = Str(j, "/splits/val/table");
  r.val.split = Num<double>(At(j, "/splits/val/split"), 0);
  r.val.samples = Num<uint64_t>(At(j, "/splits/val/samples"), 0);
  r.val.sample_digest = Str(j, "/splits/val/sample_digest");
  if (const json& c = At(j, "/classes"); c.is_array())
    r.classes = c.get<std::vector<std::string>>();
  r.model = Str(j, "/model");
  r.base_spec = Str(j, "/base/spec");
  r.base_model_id = Str(j, "/base/model_content_id");
  r.base_run_commit = Str(j, "/base/run_commit");
  r.base_model_commit = Str(j, "/base/model_commit");
  if (const json& c = At(j, "/config"); !c.is_null()) {
    VREPO_ASSIGN_OR_RETURN(r.config, ConfigFromJson(c, "/config"));
  }
  if (const json& p = At(j, "/preprocessing"); !p.is_null()) {
    VREPO_ASSIGN_OR_RETURN(r.preprocessing, PreprocessingFromJson(p, where));
  } else {
    r.legacy_preprocessing = true;
  }
  r.seed = Num<uint64_t>(At(j, "/seed"), 0);
  r.versions.vrepo = Str(j, "/versions/vrepo");
  r.versions.source_revision = Str(j, "/versions/source_revision");
  r.versions.libtorch = Str(j, "/versions/libtorch");
  r.versions.cuda = Str(j, "/versions/cuda");
  r.versions.cudnn = Str(j, "/versions/cudnn");
  r.versions.blas = Str(j, "/versions/blas");
  r.versions.device_name = Str(j, "/device");
  if (const json& list = At(j, "/epochs"); list.is_array()) {
    for (const json& e : list) {
      EpochMetrics m;
      m.epoch = Num<int>(e.value("epoch", json()), 0);
      m.train_loss = Metric(e.value("train_loss", json()));
      m.val_loss = Metric(e.value("val_loss", json()));
      m.val_accuracy = Metric(e.value("val_accuracy", json()));
      // Bound to a name: items() of a temporary would outlive it.
      const json per_class = e.value("per_class_accuracy", json::object());
      for (const auto& [label, acc] : per_class.items()) m.per_class_accuracy[label] = Metric(acc);
      m.images_per_second = Num<double>(e.value("images_per_second", json()), 0);
      m.seconds = Num<double>(e.value("seconds", json()), 0);
      m.lr = Metric(e.value("lr", json()));
      m.backbone_lr = Metric(e.value("backbone_lr", json()));
      const json retain = e.value("retain", json::object());
      for (const auto& [name, metrics] : retain.items()) {
        m.retain[name] = {Metric(metrics.value("loss", json())),
                          Metric(metrics.value("accuracy", json()))};
      }
      r.epochs.push_back(std::move(m));
    }
  }
  if (const json& list = At(j, "/retain"); list.is_array()) {
    for (const json& t : list) {
      RetainRecord rec;
      rec.name = t.value("name", "");
      rec.table = t.value("table", "");
      rec.commit = t.value("commit", "");
      rec.head = t.value("head", "current");
      rec.samples = Num<uint64_t>(t.value("samples", json()), 0);
      rec.skipped = Num<uint64_t>(t.value("skipped", json()), 0);
      rec.sample_digest = t.value("sample_digest", "");
      r.retain.push_back(std::move(rec));
    }
  }
  r.best_epoch = Num<int>(At(j, "/best_epoch"), 0);
  r.best_val_accuracy = Num<double>(At(j, "/best_val_accuracy"), 0);
  if (const json& c = At(j, "/confusion"); c.is_array()) {
    r.confusion = c.get<std::vector<std::vector<int64_t>>>();
  }
  if (std::string p = Str(j, "/weights/path"); !p.empty()) r.weights_path = p;
  r.weights_id = Str(j, "/weights/content_id");
  r.weights_size = Num<uint64_t>(At(j, "/weights/size"), 0);
  r.seconds = Num<double>(At(j, "/seconds"), 0);
  r.trainable_parameters = Num<int64_t>(At(j, "/parameters/trainable"), 0);
  r.total_parameters = Num<int64_t>(At(j, "/parameters/total"), 0);
  if (const json& l = At(j, "/lora"); l.is_object()) {
    r.lora.rank = Num<int>(At(j, "/lora/rank"), 0);
    r.lora.alpha = Num<double>(At(j, "/lora/alpha"), 0);
    if (const json& t = At(j, "/lora/targets"); t.is_array())
      r.lora.targets = t.get<std::vector<std::string>>();
    if (const json& t = At(j, "/lora/layers"); t.is_array())
      r.lora.layers = t.get<std::vector<std::string>>();
  }
  if (const json& d = At(j, "/distributed"); d.is_object()) {
    r.distributed.world_size = Num<int>(At(j, "/distributed/world_size"), 1);
    r.distributed.backend = Str(j, "/distributed/backend");
    if (const json& t = At(j, "/distributed/hosts"); t.is_array())
      r.distributed.hosts = t.get<std::vector<std::string>>();
    if (const json& t = At(j, "/distributed/train_sample_digests"); t.is_array())
      r.distributed.train_digests = t.get<std::vector<std::string>>();
  }
  return r;
}

}  // namespace vrepo::train
