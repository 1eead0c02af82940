#include "vrepo/train/config.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "vrepo/train/models.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

// One entry per setting: its JSON key and how to read and write it, so that the two
// directions and the unknown-key check cannot drift apart.
struct Field {
  const char* key;
  std::function<json(const TrainConfig&)> get;
  std::function<void(const json&, TrainConfig&)> set;  // throws json::type_error
};

template <class T>
Field MakeField(const char* key, T TrainConfig::*member) {
  return Field{key, [member](const TrainConfig& c) { return json(c.*member); },
               [member](const json& j, TrainConfig& c) {
                 if constexpr (std::is_same_v<T, bool>) {
                   if (!j.is_boolean()) throw std::invalid_argument("expected true or false");
                 } else if constexpr (std::is_arithmetic_v<T>) {
                   if (!j.is_number()) throw std::invalid_argument("expected a number");
                   if constexpr (std::is_integral_v<T>) {
                     double d = j.get<double>();
                     if (d != std::floor(d)) throw std::invalid_argument("expected an integer");
                     if (std::is_unsigned_v<T> && d < 0) {
                       throw std::invalid_argument("expected a non-negative integer");
                     }
                   }
                 } else if constexpr (std::is_same_v<T, std::string>) {
                   if (!j.is_string()) throw std::invalid_argument("expected a string");
                 }
                 c.*member = j.get<T>();
               }};
}

// A list of strings, or the command line's comma-separated string.
std::vector<std::string> StringList(const json& j) {
  std::vector<std::string> out;
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    for (size_t start = 0; start < s.size();) {
      size_t comma = std::min(s.find(',', start), s.size());
      if (comma > start) out.push_back(s.substr(start, comma - start));
      start = comma + 1;
    }
    return out;
  }
  if (!j.is_array()) throw std::invalid_argument("expected a list of strings");
  for (const json& e : j) {
    if (!e.is_string()) throw std::invalid_argument("expected a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      MakeField("rev", &TrainConfig::rev),
      MakeField("labels", &TrainConfig::labels),
      MakeField("val_labels", &TrainConfig::val_labels),
      MakeField("val_split", &TrainConfig::val_split),
      MakeField("path_column", &TrainConfig::path_column),
      MakeField("label_column", &TrainConfig::label_column),
      MakeField("model", &TrainConfig::model),
      MakeField("base", &TrainConfig::base),
      MakeField("freeze", &TrainConfig::freeze),
      MakeField("epochs", &TrainConfig::epochs),
      MakeField("batch_size", &TrainConfig::batch_size),
      MakeField("lr", &TrainConfig::lr),
      MakeField("head_lr", &TrainConfig::head_lr),
      MakeField("optimizer", &TrainConfig::optimizer),
      MakeField("weight_decay", &TrainConfig::weight_decay),
      MakeField("momentum", &TrainConfig::momentum),
      Field{"augment", [](const TrainConfig& c) { return json(c.augment); },
            [](const json& j, TrainConfig& c) {
              // A list, or the command line's comma-separated string.
              c.augment.clear();
              if (j.is_string()) {
                std::string s = j.get<std::string>();
                size_t start = 0;
                while (start <= s.size() && !s.empty()) {
                  size_t comma = s.find(',', start);
                  if (comma == std::string::npos) comma = s.size();
                  if (comma > start) c.augment.push_back(s.substr(start, comma - start));
                  start = comma + 1;
                }
                return;
              }
              if (!j.is_array()) throw std::invalid_argument("expected a list of strings");
              for (const json& e : j) {
                if (!e.is_string()) throw std::invalid_argument("expected a list of strings");
                c.augment.push_back(e.get<std::string>());
              }
            }},
      MakeField("image_size", &TrainConfig::image_size),
      MakeField("seed", &TrainConfig::seed),
      MakeField("device", &TrainConfig::device),
      MakeField("precision", &TrainConfig::precision),
      MakeField("deterministic", &TrainConfig::deterministic),
      MakeField("early_stop", &TrainConfig::early_stop),
      MakeField("name", &TrainConfig::name),
      MakeField("workers", &TrainConfig::workers),
      MakeField("prefetch", &TrainConfig::prefetch),
      MakeField("lora_rank", &TrainConfig::lora_rank),
      MakeField("lora_alpha", &TrainConfig::lora_alpha),
      Field{"lora_targets", [](const TrainConfig& c) { return json(c.lora_targets); },
            [](const json& j, TrainConfig& c) { c.lora_targets = StringList(j); }},
      MakeField("schedule", &TrainConfig::schedule),
      MakeField("warmup_epochs", &TrainConfig::warmup_epochs),
      MakeField("step_epochs", &TrainConfig::step_epochs),
      MakeField("label_smoothing", &TrainConfig::label_smoothing),
      MakeField("grad_clip", &TrainConfig::grad_clip),
      MakeField("backbone_lr", &TrainConfig::backbone_lr),
      MakeField("sync_bn", &TrainConfig::sync_bn),
      Field{"retain", [](const TrainConfig& c) { return json(c.retain); },
            [](const json& j, TrainConfig& c) {
              if (!j.is_array()) throw std::invalid_argument("expected a list of strings");
              c.retain.clear();
              for (const json& e : j) {
                if (!e.is_string()) throw std::invalid_argument("expected a list of strings");
                c.retain.push_back(e.get<std::string>());
              }
            }},
  };
  return fields;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

json ConfigToJson(const TrainConfig& config) {
  json out = json::object();
  for (const Field& f : Fields()) out[f.key] = f.get(config);
  return out;
}

Result<TrainConfig> ConfigFromJson(const json& j, const std::string& source) {
  if (!j.is_object()) return Status::InvalidArgument(source + ": a config must be a JSON object");
  TrainConfig config;
  for (const auto& [key, value] : j.items()) {
    const Field* field = nullptr;
    for (const Field& f : Fields()) {
      if (key == f.key) field = &f;
    }
    if (field == nullptr) {
      return Status::InvalidArgument(source + ": unknown setting '" + key + "'");
    }
    try {
      field->set(value, config);
    } catch (const std::exception& e) {
      return Status::InvalidArgument(source + ": setting '" + key + "': " + e.what());
    }
  }
  return config;
}

Result<TrainConfig> ReadConfigFile(const std::string& path) {
  VREPO_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(path + ": not valid JSON");
  return ConfigFromJson(j, path);
}

Status CheckDevice(const std::string& device) {
  if (device != "auto" && device != "cpu" && device != "cuda") {
    return Status::InvalidArgument("unknown device '" + device + "' (valid: auto, cpu, cuda)");
  }
  if (device == "cuda" && !torch::cuda::is_available()) {
    return Status::InvalidArgument(
        "--device cuda: no CUDA device (torch::cuda::is_available() is false)");
  }
  return Status::OK();
}

Status ValidateConfig(const TrainConfig& c) {
  const auto& models = ModelNames();
  if (std::find(models.begin(), models.end(), c.model) == models.end()) {
    return Status::InvalidArgument("unknown model '" + c.model + "' (valid: " + Join(models) + ")");
  }
  if (c.labels.empty()) return Status::InvalidArgument("--labels: a label table is required");
  auto freeze = ParseFreezeSpec(c.freeze);
  if (!freeze.ok()) return Status::InvalidArgument("--freeze: " + freeze.status().message());
  if (Status stage = CheckFreezeSpec(c.model, *freeze); !stage.ok()) {
    return Status::InvalidArgument("--freeze: " + stage.message());
  }
  if (c.epochs <= 0) return Status::InvalidArgument("--epochs must be positive");
  if (c.batch_size <= 0) return Status::InvalidArgument("--batch-size must be positive");
  if (!(c.lr > 0)) return Status::InvalidArgument("--lr must be positive");
  if (c.head_lr < 0) return Status::InvalidArgument("--head-lr must not be negative");
  if (c.weight_decay < 0) return Status::InvalidArgument("--weight-decay must not be negative");
  if (c.momentum < 0 || c.momentum >= 1) {
    return Status::InvalidArgument("--momentum must be in [0, 1)");
  }
  if (c.optimizer != "adamw" && c.optimizer != "sgd") {
    return Status::InvalidArgument("unknown optimizer '" + c.optimizer + "' (valid: adamw, sgd)");
  }
  for (const auto& a : c.augment) {
    if (a != "flip" && a != "crop") {
      return Status::InvalidArgument("unknown augmentation '" + a + "' (valid: flip, crop)");
    }
  }
  if (c.val_labels.empty() && !(c.val_split > 0 && c.val_split < 1)) {
    return Status::InvalidArgument("--val-split must be between 0 and 1 (exclusive)");
  }
  if (c.image_size < 0 || c.image_size > 4096) {
    return Status::InvalidArgument("--image-size must be between 0 and 4096");
  }
  if (c.early_stop < 0) return Status::InvalidArgument("--early-stop must not be negative");
  if (c.workers < 0) return Status::InvalidArgument("--workers must not be negative");
  if (c.prefetch <= 0) return Status::InvalidArgument("--prefetch must be positive");
  if (c.max_image_pixels == 0) {
    return Status::InvalidArgument("--max-image-pixels must be positive");
  }
  if (c.schedule != "constant" && c.schedule != "cosine" && c.schedule != "step") {
    return Status::InvalidArgument("unknown schedule '" + c.schedule +
                                   "' (valid: constant, cosine, step)");
  }
  if (c.warmup_epochs < 0 || (c.warmup_epochs > 0 && c.warmup_epochs >= c.epochs)) {
    return Status::InvalidArgument("--warmup-epochs must be between 0 and --epochs - 1");
  }
  if (c.step_epochs < 0) return Status::InvalidArgument("--step-epochs must not be negative");
  if (!(c.label_smoothing >= 0 && c.label_smoothing <= 1)) {
    return Status::InvalidArgument("--label-smoothing must be between 0 and 1");
  }
  if (!(c.grad_clip >= 0)) return Status::InvalidArgument("--grad-clip must not be negative");
  if (!(c.backbone_lr >= 0)) return Status::InvalidArgument("--backbone-lr must not be negative");
  for (const auto& r : c.retain) {
    if (r.empty() || r[0] == '@') {
      return Status::InvalidArgument("--retain '" + r + "': needs a label table (TABLE[@REV])");
    }
  }
  VREPO_RETURN_IF_ERROR(CheckDevice(c.device));
  if (c.precision != "auto" && c.precision != "fp32" && c.precision != "bf16") {
    return Status::InvalidArgument("unknown precision '" + c.precision +
                                   "' (valid: auto, fp32, bf16)");
  }
  if (c.lora_rank < 0 || c.lora_rank > 1024) {
    return Status::InvalidArgument("--lora: rank must be between 1 and 1024 (0: off)");
  }
  if (!(c.lora_alpha >= 0) || !std::isfinite(c.lora_alpha)) {
    return Status::InvalidArgument("--lora-alpha must be positive (0: the rank)");
  }
  if (c.lora_rank == 0 && (c.lora_alpha != 0 || !c.lora_targets.empty())) {
    return Status::InvalidArgument("--lora-alpha and --lora-targets need --lora RANK");
  }
  if (c.lora_rank > 0 && c.base.empty()) {
    return Status::InvalidArgument(
        "--lora needs --base: an adapter is stored without its base, which must be found again");
  }
  if (c.lora_rank > 0 && c.freeze != "none") {
    return Status::InvalidArgument("--lora freezes the base itself; leave --freeze at none");
  }
  if (!c.base.empty() && c.base.rfind("run:", 0) == 0 && c.base.size() == 4) {
    return Status::InvalidArgument("--base run: needs a run id or name");
  }
  if (c.base == "model:") return Status::InvalidArgument("--base model: needs a model name");
  return Status::OK();
}

}  // namespace vrepo::train
