// Base-model checkpoints from the ecosystem: torchvision `.pth` files (torch.save of a
// state_dict, zip and legacy formats) read without executing anything from the file, and
// safetensors files with torchvision or timm names, mapped to vrepo's (torchvision's) names
// and checked against an architecture. Plain functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vrepo/train/safetensors.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

enum class CheckpointFormat {
  kTorchZip,     // torch.save's default since 1.6: a zip of data.pkl and data/KEY storages
  kTorchLegacy,  // _use_new_zipfile_serialization=False: pickles followed by raw storages
  kSafetensors,
};
// "torch-zip", "torch-legacy", "safetensors".
const char* CheckpointFormatName(CheckpointFormat format);

struct Checkpoint {
  CheckpointFormat format = CheckpointFormat::kSafetensors;
  TensorMap tensors;   // names as in the file; contiguous CPU tensors with the file's dtypes
  std::string sha256;  // 64 hex, of the file's bytes
};

// Parses a checkpoint held in `bytes`; `source` (the file's path) names it in every error.
// The format is recognised from the bytes. A pickle may hold only what a state_dict needs:
// dicts (collections.OrderedDict), tensors (torch._utils._rebuild_tensor_v2 over torch's
// storage types), lists, tuples, numbers and strings; any other global is refused naming it,
// before anything else happens. The top level must map names to tensors. Corruption for a
// malformed, truncated or foreign file; InvalidArgument for a refused global.
Result<Checkpoint> ParseCheckpoint(std::string_view bytes, const std::string& source);

// Reads `path` and parses it (ParseCheckpoint).
Result<Checkpoint> ReadCheckpoint(const std::string& path);

// Renames the tensors of a checkpoint for `arch` to vrepo's names (torchvision's): names
// vrepo already knows stay; others are mapped by the one table of timm names (timm's ResNets
// share torchvision's names; its ViTs do not). Names neither knows are kept, for
// CheckArchitecture to report.
Result<TensorMap> CanonicalNames(const std::string& arch, TensorMap tensors);

// The name `timm_name` of a timm `arch` checkpoint has in vrepo, or "" when the table has no
// rule for it. Exposed for tests.
std::string TimmToTorchvisionName(const std::string& arch, const std::string& timm_name);

struct ArchitectureFit {
  int64_t num_classes = 0;  // rows of the file's classifier head
  int64_t parameters = 0;   // parameter elements of `arch` with that head
  std::string head_prefix;  // the head's name prefix in the state dict ("fc.")
};

// Checks `tensors` (canonical names) against `arch`'s state dict built with `in_channels`
// inputs: every name present with its shape (the head may have any number of classes), no
// name left over; batch-norm counters (num_batches_tracked), which timm files may lack, are
// added as zero. One line on error: "<source>: not a <arch> checkpoint: '<tensor>' is [..] in
// the file, [..] in <arch> (and N more differences)", or the same for a tensor only one side
// has.
Result<ArchitectureFit> CheckArchitecture(const std::string& arch, int64_t in_channels,
                                          TensorMap* tensors, const std::string& source);

}  // namespace vrepo::train
