#include "vrepo/train/model_store.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "vrepo/train/checkpoint.h"
#include "vrepo/train/models.h"
#include "vrepo/train/run_model.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/util/file.h"
#include "vrepo/util/text.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

constexpr const char* kModelsPrefix = "refs/models/";
constexpr size_t kMaxModelJsonBytes = 64 << 20;
constexpr int kMaxModelJsonDepth = 8;
constexpr size_t kMaxClassNameBytes = 256;
constexpr size_t kMaxClasses = 1'000'000;

// A class name is shown in terminals and written into tables: short, no control characters.
std::string ClassNameProblem(const std::string& name) {
  if (name.empty()) return "an empty class name";
  if (name.size() > kMaxClassNameBytes) return "a class name longer than 256 bytes";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return "a class name with a control character";
  }
  return "";
}

Result<std::vector<std::string>> ReadClassNames(const std::string& path) {
  VREPO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> names;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_array()) {
      return Status::InvalidArgument(path + ": not a JSON list of class names");
    }
    for (const json& v : parsed) {
      if (!v.is_string()) return Status::InvalidArgument(path + ": a class name is not a string");
      names.push_back(v.get<std::string>());
    }
  } else {
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      std::string line = text.substr(start, nl == std::string::npos ? nl : nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      names.push_back(std::move(line));
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    while (!names.empty() && names.back().empty()) names.pop_back();  // trailing newlines
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (std::string why = ClassNameProblem(names[i]); !why.empty()) {
      return Status::InvalidArgument(path + ": " + why + " (name " + std::to_string(i + 1) + ")");
    }
  }
  return names;
}

// The file's name without folders and its last extension.
std::string Stem(const std::string& path) {
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsHex(const json& v, size_t n) {
  return v.is_string() && v.get_ref<const std::string&>().size() == n &&
         IsLowerHex(v.get_ref<const std::string&>());
}

}  // namespace

json ModelInfoToJson(const ModelInfo& m) {
  return json{
      {"format", m.format},
      {"arch", m.arch},
      {"num_classes", m.num_classes},
      {"classes", m.classes},
      {"preprocessing", PreprocessingToJson(m.preprocessing)},
      {"source",
       {{"file", m.source_file}, {"sha256", m.source_sha256}, {"format", m.source_format}}},
      {"parameters", m.parameters},
      {"weights",
       {{"path", "model.safetensors"}, {"content_id", m.weights_id}, {"size", m.weights_size}}},
  };
}

Result<ModelInfo> ModelInfoFromJson(const json& j, const std::string& where) {
  auto bad = [&](const std::string& why) { return Status::Corruption(where + ": " + why); };
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("format") || !j["format"].is_number_integer() ||
      j["format"].get<int>() > kModelFormatVersion || j["format"].get<int>() < 1) {
    return bad("unknown format (newer vrepo?)");
  }
  ModelInfo m;
  m.format = j["format"].get<int>();
  if (!j.contains("arch") || !j["arch"].is_string()) return bad("arch is not a string");
  m.arch = j["arch"].get<std::string>();
  if (std::find(ModelNames().begin(), ModelNames().end(), m.arch) == ModelNames().end()) {
    return bad("arch '" + m.arch.substr(0, 64) + "' is not an architecture this vrepo knows");
  }
  if (!j.contains("num_classes") || !j["num_classes"].is_number_unsigned() ||
      j["num_classes"].get<uint64_t>() < 1 || j["num_classes"].get<uint64_t>() > kMaxClasses) {
    return bad("num_classes is not a positive whole number");
  }
  m.num_classes = j["num_classes"].get<int64_t>();
  if (!j.contains("classes") || !j["classes"].is_array() ||
      j["classes"].size() != static_cast<size_t>(m.num_classes)) {
    return bad("classes is not a list of num_classes names");
  }
  for (const json& c : j["classes"]) {
    if (!c.is_string() || !ClassNameProblem(c.get<std::string>()).empty()) {
      return bad("classes holds a value that is not a class name");
    }
    m.classes.push_back(c.get<std::string>());
  }
  if (!j.contains("preprocessing")) return bad("preprocessing is missing");
  VREPO_ASSIGN_OR_RETURN(m.preprocessing, PreprocessingFromJson(j["preprocessing"], where));
  const json& source = j.value("source", json::object());
  if (!source.is_object()) return bad("source is not an object");
  for (const char* key : {"file", "format"}) {
    if (source.contains(key)) {
      if (!source[key].is_string() || !ClassNameProblem(source[key].get<std::string>()).empty()) {
        return bad(std::string("source.") + key + " is not a short string");
      }
    }
  }
  m.source_file = source.value("file", "");
  m.source_format = source.value("format", "");
  if (!source.contains("sha256") || !IsHex(source["sha256"], 64)) {
    return bad("source.sha256 is not 64 hex digits");
  }
  m.source_sha256 = source["sha256"].get<std::string>();
  if (!j.contains("parameters") || !j["parameters"].is_number_unsigned()) {
    return bad("parameters is not a whole number");
  }
  m.parameters = j["parameters"].get<int64_t>();
  const json& weights = j.value("weights", json::object());
  if (!weights.is_object() || !weights.contains("path") || weights["path"] != "model.safetensors" ||
      !weights.contains("content_id") || !IsHex(weights["content_id"], 64) ||
      !weights.contains("size") || !weights["size"].is_number_unsigned()) {
    return bad("weights is not {path: model.safetensors, content_id, size}");
  }
  m.weights_id = weights["content_id"].get<std::string>();
  m.weights_size = weights["size"].get<uint64_t>();
  return m;
}

Status CheckModelName(History& history, const std::string& name, bool force) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.' && name[0] != '-' &&
            name.find("..") == std::string::npos && name.back() != '.' && !name.ends_with(".lock");
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return Status::InvalidArgument("invalid model name '" + name +
                                   "' (letters, digits, '-', '_' and '.'; give --name)");
  }
  if (!force && history.ResolveCommit(kModelsPrefix + name).ok()) {
    return Status::InvalidArgument("model '" + name + "' already exists (--force replaces it)");
  }
  return Status::OK();
}

Result<ModelRecord> ImportModel(Repository& repo, const std::string& path,
                                const ImportOptions& options) {
  if (repo.read_only()) return Status::InvalidArgument("model import: repository opened read-only");
  if (std::find(ModelNames().begin(), ModelNames().end(), options.arch) == ModelNames().end()) {
    std::string names;
    for (const std::string& n : ModelNames()) names += (names.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("unknown architecture '" + options.arch + "' (one of " + names +
                                   ")");
  }
  const std::string name = options.name.empty() ? Stem(path) : options.name;
  History& history = repo.history();
  VREPO_RETURN_IF_ERROR(CheckModelName(history, name, options.force));

  // The preprocessing: the architecture's, overridden by the options, checked as a reader
  // would check it.
  VREPO_ASSIGN_OR_RETURN(Preprocessing pre, DefaultPreprocessing(options.arch));
  if (options.input_size > 0) {
    VREPO_ASSIGN_OR_RETURN(pre, WithImageSize(pre, options.input_size));
  }
  if (options.resize > 0) pre.resize = options.resize;
  if (!options.mean.empty()) pre.mean = options.mean;
  if (!options.std.empty()) pre.std = options.std;
  {
    auto checked = PreprocessingFromJson(PreprocessingToJson(pre), "model import");
    if (!checked.ok()) {
      std::string why = checked.status().message();
      return Status::InvalidArgument(why.substr(std::strlen("model import: ")));
    }
    for (double s : pre.std) {
      if (!(s > 0))
        return Status::InvalidArgument("preprocessing.std holds a value that is not > 0");
    }
  }
  std::vector<std::string> classes;
  if (!options.classes_file.empty()) {
    VREPO_ASSIGN_OR_RETURN(classes, ReadClassNames(options.classes_file));
  }

  VREPO_ASSIGN_OR_RETURN(Checkpoint checkpoint, ReadCheckpoint(path));
  VREPO_ASSIGN_OR_RETURN(TensorMap tensors,
                         CanonicalNames(options.arch, std::move(checkpoint.tensors)));
  VREPO_ASSIGN_OR_RETURN(ArchitectureFit fit,
                         CheckArchitecture(options.arch, pre.channels, &tensors, path));
  if (classes.empty()) {
    for (int64_t i = 0; i < fit.num_classes; ++i) classes.push_back(std::to_string(i));
  } else if (static_cast<int64_t>(classes.size()) != fit.num_classes) {
    return Status::InvalidArgument(options.classes_file + ": " + std::to_string(classes.size()) +
                                   " class names, but the checkpoint's head '" + fit.head_prefix +
                                   "weight' has " + std::to_string(fit.num_classes) + " classes");
  }

  ModelInfo info;
  info.arch = options.arch;
  info.num_classes = fit.num_classes;
  info.classes = classes;
  info.preprocessing = pre;
  info.source_file = BaseName(path);
  if (!ClassNameProblem(info.source_file).empty()) info.source_file = "checkpoint";
  info.source_sha256 = checkpoint.sha256;
  info.source_format = CheckpointFormatName(checkpoint.format);
  info.parameters = fit.parameters;
  const json classes_json = classes;
  VREPO_ASSIGN_OR_RETURN(std::string weights,
                         SerializeSafetensors(tensors, {{"model", options.arch},
                                                        {"classes", classes_json.dump()},
                                                        {"channels", std::to_string(pre.channels)},
                                                        {"format", "pt"}}));
  info.weights_id = ContentId::Of(weights).Hex();
  info.weights_size = weights.size();

  // Crash-safe order, as a run record: objects durable, then the commit, then the ref.
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<PackWriter> writer, repo.store().NewWriter());
  std::vector<FileEntry> entries;
  for (const auto& [file, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"model.json", ModelInfoToJson(info).dump(2) + "\n"}, {"model.safetensors", weights}}) {
    VREPO_ASSIGN_OR_RETURN(ContentId id, writer->Put(bytes));
    entries.push_back(FileEntry{file, id, bytes.size(), false});
  }
  VREPO_RETURN_IF_ERROR(writer->Commit(nullptr));
  VREPO_ASSIGN_OR_RETURN(std::string tree, history.WriteTree(entries));
  VREPO_ASSIGN_OR_RETURN(
      std::string commit,
      history.CreateCommit(tree, {},
                           "model " + name + ": " + options.arch + " from " + info.source_file));
  const std::string ref = kModelsPrefix + name;
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> old, history.ReadRef(ref));
  if (old && !options.force) {
    return Status::InvalidArgument("model '" + name + "' already exists (--force replaces it)");
  }
  VREPO_RETURN_IF_ERROR(history.UpdateRef(ref, commit, old.value_or(""), "model import: " + name));
  return ReadModel(repo, name);
}

Result<ModelRecord> ReadModel(Repository& repo, const std::string& name_in) {
  std::string name = name_in;
  if (name.rfind("model:", 0) == 0) name = name.substr(6);
  if (name.rfind(kModelsPrefix, 0) == 0) name = name.substr(std::strlen(kModelsPrefix));
  History& history = repo.history();
  ModelRecord m;
  m.name = name;
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, history.RefsWithPrefix(kModelsPrefix));
  for (const RefInfo& ref : refs) {
    if (ref.name == name) m.commit = ref.target;
  }
  if (m.commit.empty()) return Status::NotFound("unknown model '" + name_in + "'");
  VREPO_ASSIGN_OR_RETURN(CommitInfo info, history.GetCommit(m.commit));
  m.time = info.time;
  VREPO_ASSIGN_OR_RETURN(m.files, history.ReadTree(m.commit));
  const std::string where = "model " + name + ": model.json";
  auto it = std::find_if(m.files.begin(), m.files.end(),
                         [](const FileEntry& f) { return f.path == "model.json"; });
  if (it == m.files.end()) return Status::Corruption("model " + name + ": no model.json");
  if (it->size > kMaxModelJsonBytes) return Status::Corruption(where + " is too large");
  auto bytes = repo.store().Get(it->id);
  if (!bytes.ok()) return bytes.status().WithContext(where);
  if (JsonNestingPastLimit(*bytes, kMaxModelJsonDepth) != std::string_view::npos) {
    return Status::Corruption(where + " nests too deeply");
  }
  json parsed = json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Status::Corruption(where + " is not valid JSON");
  VREPO_ASSIGN_OR_RETURN(m.info, ModelInfoFromJson(parsed, where));
  return m;
}

Result<std::vector<ModelRecord>> ListModels(Repository& repo) {
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, repo.history().RefsWithPrefix(kModelsPrefix));
  std::vector<ModelRecord> out;
  for (const RefInfo& ref : refs) {
    VREPO_ASSIGN_OR_RETURN(ModelRecord m, ReadModel(repo, ref.name));
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const ModelRecord& a, const ModelRecord& b) { return a.name < b.name; });
  return out;
}

Result<std::string> ReadModelWeights(Repository& repo, const ModelRecord& model) {
  for (const FileEntry& f : model.files) {
    if (f.path != "model.safetensors") continue;
    if (f.id.Hex() != model.info.weights_id) {
      return Status::Corruption("model " + model.name +
                                ": model.safetensors is not the content model.json names");
    }
    auto bytes = repo.store().Get(f.id);
    if (!bytes.ok())
      return bytes.status().WithContext("model " + model.name + ": model.safetensors");
    return std::move(bytes).value();
  }
  return Status::Corruption("model " + model.name + ": no model.safetensors");
}

Status RemoveModel(Repository& repo, const ModelRecord& model) {
  if (repo.read_only()) return Status::InvalidArgument("model rm: repository opened read-only");
  return repo.history().UpdateRef(kModelsPrefix + model.name, "", model.commit,
                                  "model rm: " + model.name);
}

Result<ResolvedBase> ResolveBase(Repository& repo, const std::string& spec) {
  ResolvedBase base;
  if (spec.empty()) return base;
  if (spec.rfind("run:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(RunRecord run, ReadRun(repo, spec.substr(4)));
    VREPO_ASSIGN_OR_RETURN(std::string stored, ReadRunWeights(repo, run));
    base.content_id = ContentId::Of(stored).Hex();
    // A LoRA run stores only its adapter and head: its full weights are its base's, merged.
    VREPO_ASSIGN_OR_RETURN(base.weights, RunModelWeights(repo, run));
    base.run_commit = run.commit;
    base.arch = run.manifest.model;
    base.source = "run " + spec.substr(4) + " model.safetensors";
  } else if (spec.rfind("model:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(ModelRecord model, ReadModel(repo, spec));
    VREPO_ASSIGN_OR_RETURN(base.weights, ReadModelWeights(repo, model));
    base.model_commit = model.commit;
    base.arch = model.info.arch;
    base.preprocessing = model.info.preprocessing;
    base.classes = model.info.classes;
    base.source = "model " + model.name + " model.safetensors";
  } else {
    VREPO_ASSIGN_OR_RETURN(base.weights, ReadFile(spec));
    base.source = spec;
  }
  if (base.content_id.empty()) base.content_id = ContentId::Of(base.weights).Hex();
  return base;
}

Result<std::string> BaseArchitecture(Repository& repo, const std::string& spec) {
  if (spec.rfind("run:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(RunRecord run, ReadRun(repo, spec.substr(4)));
    return run.manifest.model;
  }
  if (spec.rfind("model:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(ModelRecord model, ReadModel(repo, spec));
    return model.info.arch;
  }
  return std::string();
}

}  // namespace vrepo::train
