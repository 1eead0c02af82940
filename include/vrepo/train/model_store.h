// Base models as versioned objects: an imported checkpoint is a commit under refs/models/NAME
// whose tree holds model.safetensors (canonical torchvision names) and model.json (ModelInfo:
// architecture, classes, preprocessing, the source file's name and SHA-256). Also where a
// training base ("PATH", "run:ID", "model:NAME") is resolved. One thread per Repository.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/repo/repository.h"
#include "vrepo/train/preprocess.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

// model.json's "format" value; readers refuse a larger one.
constexpr int kModelFormatVersion = 1;

struct ModelInfo {
  int format = kModelFormatVersion;
  std::string arch;                  // one of ModelNames()
  int64_t num_classes = 0;           // rows of the head in model.safetensors
  std::vector<std::string> classes;  // num_classes names ("0".."N-1" when none were given)
  Preprocessing preprocessing;
  std::string source_file;    // the imported file's name (no folders)
  std::string source_sha256;  // 64 hex, of the imported file's bytes
  std::string source_format;  // CheckpointFormatName: "torch-zip", "torch-legacy", ...
  int64_t parameters = 0;     // parameter elements
  std::string weights_id;     // 64 hex: content id of model.safetensors
  uint64_t weights_size = 0;
};

nlohmann::json ModelInfoToJson(const ModelInfo& info);
// Checks what a reader uses (a clone brings model records like everything else) and reads it.
// Corruption "<where>: <field> is not ..." otherwise.
Result<ModelInfo> ModelInfoFromJson(const nlohmann::json& json, const std::string& where);

struct ModelRecord {
  std::string name;    // under refs/models/
  std::string commit;  // 40 hex
  int64_t time = 0;    // commit time, seconds since the epoch
  ModelInfo info;
  std::vector<FileEntry> files;
};

struct ImportOptions {
  std::string arch;               // required: one of ModelNames()
  std::string name;               // "" = the file's name without its extension
  std::string classes_file;       // "" | one class name per line | a JSON list of names
  std::vector<double> mean, std;  // empty = the architecture's default
  int input_size = 0;             // 0 = default; else the crop, resize scaled (WithImageSize)
  int resize = 0;                 // 0 = default (or scaled by input_size)
  bool force = false;             // replace refs/models/NAME when it exists
};

// OK when `name` can name a model (letters, digits, '-', '_', '.'; not taken unless `force`).
Status CheckModelName(History& history, const std::string& name, bool force);

// Reads the checkpoint at `path` (ReadCheckpoint), maps its names for options.arch, checks
// every tensor against the architecture (names and shapes; any class count) and the class
// names and preprocessing against it, then records the model under refs/models/NAME. Nothing
// is written when any check fails. Returns the record as read back.
Result<ModelRecord> ImportModel(Repository& repo, const std::string& path,
                                const ImportOptions& options);

// Finds a model by name ("NAME", "model:NAME" or "refs/models/NAME"). NotFound "unknown model
// 'x'"; Corruption when model.json is missing or malformed.
Result<ModelRecord> ReadModel(Repository& repo, const std::string& name);

// Every model under refs/models/, by name.
Result<std::vector<ModelRecord>> ListModels(Repository& repo);

// model.safetensors of the record, verified against the content id model.json names.
Result<std::string> ReadModelWeights(Repository& repo, const ModelRecord& model);

// Deletes refs/models/NAME (if it still points at the record's commit). The commit stays
// reachable from runs that started from it.
Status RemoveModel(Repository& repo, const ModelRecord& model);

// A training base resolved: "" (none), a safetensors file path, "run:ID" or "model:NAME".
struct ResolvedBase {
  std::string weights;       // safetensors bytes; empty when there is no base
  std::string source;        // names it in errors ("model resnet18-in1k model.safetensors")
  std::string arch;          // the base's architecture; "" for a plain file
  std::string content_id;    // 64 hex of `weights`
  std::string run_commit;    // for run:ID
  std::string model_commit;  // for model:NAME
  // The base's preprocessing, where it records one (model:NAME).
  std::optional<Preprocessing> preprocessing;
  std::vector<std::string> classes;  // model:NAME's class names
};
Result<ResolvedBase> ResolveBase(Repository& repo, const std::string& spec);

// The architecture a "run:ID" or "model:NAME" base names, without reading its weights; ""
// for a file or no base. NotFound for an unknown run or model.
Result<std::string> BaseArchitecture(Repository& repo, const std::string& spec);

}  // namespace vrepo::train
