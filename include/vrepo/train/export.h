// Export of a run's model for use outside vrepo: DIR/model.safetensors (every tensor under
// torchvision's name, a LoRA adapter merged into its layers, so that
// torchvision.models.X(num_classes=N).load_state_dict(..., strict=True) takes it),
// preprocessing.json (the run's preprocessing) and classes.json (class names by index). The
// repository is only read. One thread per Repository.
#pragma once

#include <cstdint>
#include <string>

#include "vrepo/repo/repository.h"
#include "vrepo/train/run_record.h"
#include "vrepo/util/status.h"

namespace vrepo::train {

struct ExportSummary {
  std::string arch;
  size_t classes = 0;
  size_t tensors = 0;
  uint64_t bytes = 0;   // of model.safetensors
  bool merged = false;  // a LoRA adapter was folded in
};

// Writes the export into `dir`, which must not exist: the files go into a temporary sibling
// that is renamed to `dir` once complete, so `dir` is either whole or absent. InvalidArgument
// "<dir>: exists" when it does, before anything is read or written.
Result<ExportSummary> ExportModel(Repository& repo, const RunRecord& run, const std::string& dir);

}  // namespace vrepo::train
