#include "vrepo/train/run_model.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>

#include "vrepo/store/content_id.h"
#include "vrepo/train/lora.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

// A LoRA run may start from a LoRA run; a loop in crafted records must still end.
constexpr int kMaxBaseDepth = 16;

Result<RunModel> ReadRunModelAt(Repository& repo, const RunRecord& run, int depth);

Result<TensorMap> ReadRunBaseAt(Repository& repo, const RunManifest& m, int depth) {
  const std::string& spec = m.base_spec;
  if (spec.empty()) return Status::NotFound("the run has no base model");
  if (depth > kMaxBaseDepth) {
    return Status::InvalidArgument("base " + spec + ": runs based on runs nest deeper than " +
                                   std::to_string(kMaxBaseDepth));
  }
  if (spec.rfind("run:", 0) == 0) {
    // The second parent, not the name: a name may since point elsewhere or be gone.
    const std::string id = m.base_run_commit.empty() ? spec.substr(4) : m.base_run_commit;
    VREPO_ASSIGN_OR_RETURN(RunRecord base, ReadRun(repo, id));
    if (!m.base_model_id.empty() && base.manifest.weights_id != m.base_model_id) {
      return Status::InvalidArgument("base " + spec + ": its weights' content id " +
                                     base.manifest.weights_id + " is not the recorded " +
                                     m.base_model_id);
    }
    VREPO_ASSIGN_OR_RETURN(RunModel model, ReadRunModelAt(repo, base, depth + 1));
    return std::move(model.tensors);
  }
  // A file, or "model:NAME": an imported model's model.safetensors is in the store under the
  // recorded content id, whatever refs/models/NAME points at now.
  std::string bytes;
  auto id = ContentId::FromHex(m.base_model_id);
  if (id.ok()) {
    auto stored = repo.store().Get(*id);
    if (stored.ok()) bytes = std::move(stored).value();
  }
  if (bytes.empty()) {
    VREPO_ASSIGN_OR_RETURN(bytes, ReadFile(spec));
    if (!m.base_model_id.empty() && ContentId::Of(bytes).Hex() != m.base_model_id) {
      return Status::InvalidArgument("base " + spec + ": content id " + ContentId::Of(bytes).Hex() +
                                     " is not the recorded " + m.base_model_id +
                                     " (the file changed since the run)");
    }
  }
  VREPO_ASSIGN_OR_RETURN(SafetensorsFile file, ParseSafetensors(bytes, spec));
  return std::move(file.tensors);
}

Result<RunModel> ReadRunModelAt(Repository& repo, const RunRecord& run, int depth) {
  const RunManifest& m = run.manifest;
  const std::string where = "run " + run.DisplayName() + " " + m.weights_path;
  VREPO_ASSIGN_OR_RETURN(std::string bytes, ReadRunWeights(repo, run));
  VREPO_ASSIGN_OR_RETURN(SafetensorsFile file, ParseSafetensors(bytes, where));
  RunModel out;
  out.metadata = file.metadata;
  auto meta = [&](const char* key) {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  out.arch = meta("model");
  json classes = json::parse(meta("classes"), nullptr, false);
  if (out.arch.empty() || !classes.is_array() || classes.empty()) {
    return Status::Corruption(where + ": metadata lacks model or classes");
  }
  for (const json& c : classes) {
    if (!c.is_string()) return Status::Corruption(where + ": classes must be strings");
    out.classes.push_back(c.get<std::string>());
  }
  out.channels = meta("channels").empty() ? 3 : std::atoi(meta("channels").c_str());
  out.image_size = std::atoi(meta("image_size").c_str());
  if (out.channels != 1 && out.channels != 3) {
    return Status::Corruption(where + ": metadata channels '" + meta("channels") +
                              "' is not 1 or 3");
  }
  if (out.image_size < 0 || out.image_size > 4096) {
    return Status::Corruption(where + ": metadata image_size '" + meta("image_size") +
                              "' is out of range");
  }
  VREPO_ASSIGN_OR_RETURN(out.preprocessing, RunPreprocessing(m, out.channels));
  if (m.lora.rank == 0) {
    out.tensors = std::move(file.tensors);
    return out;
  }
  VREPO_ASSIGN_OR_RETURN(TensorMap state, ReadRunBaseAt(repo, m, depth));
  for (auto& [name, t] : file.tensors) {
    if (!IsLoraTensor(name) && !name.starts_with(HeadName(m.model) + ".")) {
      return Status::Corruption(where + ": '" + name + "' is neither an adapter nor head tensor");
    }
    state[name] = std::move(t);
  }
  VREPO_ASSIGN_OR_RETURN(out.tensors, MergeLora(std::move(state), m.lora.alpha / m.lora.rank));
  return out;
}

}  // namespace

Result<TensorMap> ReadRunBase(Repository& repo, const RunManifest& manifest) {
  try {
    return ReadRunBaseAt(repo, manifest, 0);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument("base " + manifest.base_spec + ": " +
                                   what.substr(0, what.find('\n')));
  }
}

Result<RunModel> ReadRunModel(Repository& repo, const RunRecord& run) {
  try {
    return ReadRunModelAt(repo, run, 0);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument("run " + run.DisplayName() + ": " +
                                   what.substr(0, what.find('\n')));
  }
}

Result<std::string> RunModelWeights(Repository& repo, const RunRecord& run) {
  if (run.manifest.lora.rank == 0) return ReadRunWeights(repo, run);
  VREPO_ASSIGN_OR_RETURN(RunModel model, ReadRunModel(repo, run));
  return SerializeSafetensors(model.tensors, model.metadata);
}

Result<Preprocessing> RunPreprocessing(const RunManifest& manifest, int channels) {
  if (!manifest.legacy_preprocessing) return manifest.preprocessing;
  // A record from before preprocessing was recorded: the architecture's defaults at the run's
  // size, the nearest description of what its loader did.
  VREPO_ASSIGN_OR_RETURN(Preprocessing p, DefaultPreprocessing(manifest.model));
  if (manifest.config.image_size > 0) {
    VREPO_ASSIGN_OR_RETURN(p, WithImageSize(p, manifest.config.image_size));
  }
  if (channels != p.channels) {
    p.mean.resize(1);
    p.std.resize(1);
    p.mean.resize(channels, p.mean[0]);
    p.std.resize(channels, p.std[0]);
    p.channels = channels;
  }
  return p;
}

Result<Model> BuildRunModel(const RunModel& model) {
  try {
    VREPO_ASSIGN_OR_RETURN(
        Model m, MakeModel(model.arch, static_cast<int64_t>(model.classes.size()), model.channels,
                           model.preprocessing.crop));
    VREPO_RETURN_IF_ERROR(LoadStateDict(*m, model.tensors, model.arch + " weights"));
    m->eval();
    return m;
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument(model.arch + ": " + what.substr(0, what.find('\n')));
  }
}

}  // namespace vrepo::train
