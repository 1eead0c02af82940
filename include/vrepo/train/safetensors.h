// safetensors IO: named tensors plus a string metadata map, in the format of
// huggingface/safetensors, and a checked state-dict loader for torch modules.
// Plain functions over values; safe to call from several threads on different objects.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo::train {

// Tensors by name; std::map so that writing is in sorted name order.
using TensorMap = std::map<std::string, torch::Tensor>;

struct SafetensorsFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" object
};

// The largest JSON header accepted (as the reference reader does), so that a corrupt length
// cannot make us allocate gigabytes. The header is also refused when it nests deeper than 16
// levels, checked before it is parsed.
constexpr uint64_t kMaxSafetensorsHeader = 100 << 20;

// Parses a whole safetensors file held in `bytes`; `source` names it in errors (a path or a
// content id). Every tensor is copied into its own CPU tensor. Returns Corruption naming
// `source` and the problem for any malformed header, dtype, shape or offsets.
Result<SafetensorsFile> ParseSafetensors(std::string_view bytes, const std::string& source);

// Reads and parses the safetensors file at `path`.
Result<SafetensorsFile> ReadSafetensors(const std::string& path);

// Serializes `tensors` (any device, any layout; written as contiguous little-endian CPU data)
// in name order, with a space-padded header whose length is a multiple of 8.
Result<std::string> SerializeSafetensors(const TensorMap& tensors,
                                         const std::map<std::string, std::string>& metadata = {});

// Serializes and writes to `path` atomically (temporary file, fsync, rename).
Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                        const std::map<std::string, std::string>& metadata = {});

// The safetensors dtype name ("F32", "BF16", ...) for a torch dtype; InvalidArgument when the
// format has none.
Result<std::string> SafetensorsDtypeName(torch::ScalarType type);

// All parameters and buffers of `module` by their dotted names (torch's state_dict).
TensorMap StateDict(const torch::nn::Module& module);

struct LoadStateOptions {
  // Names starting with any of these are neither loaded nor reported as missing or unexpected
  // (e.g. "fc." when the classifier head is replaced).
  std::vector<std::string> skip_prefixes;
  // When false, names missing from the file are left at their current values.
  bool require_all = true;
};

// Copies `tensors` into the parameters and buffers of `module`, converting between floating
// dtypes where the file differs (e.g. F16 weights into an F32 model). Checks every name, shape
// and dtype first and changes nothing on error; the error names `source` and lists each shape
// mismatch ("shape mismatch for 'layer1.0.conv1.weight': file has [..], model has [..]"),
// dtype mismatch ("dtype mismatch for 'fc.weight': file has I32, model has F32"), missing and
// unexpected name.
Status LoadStateDict(torch::nn::Module& module, const TensorMap& tensors, const std::string& source,
                     const LoadStateOptions& options = {});

}  // namespace vrepo::train
