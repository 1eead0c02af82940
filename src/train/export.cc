#include "vrepo/train/export.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "vrepo/train/run_model.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

Result<ExportSummary> WriteExport(Repository& repo, const RunRecord& run, const std::string& tmp) {
  VREPO_ASSIGN_OR_RETURN(RunModel model, ReadRunModel(repo, run));
  // Loading into the architecture proves the names and shapes are the ones it (and
  // torchvision) expects.
  VREPO_RETURN_IF_ERROR(BuildRunModel(model).status());
  VREPO_ASSIGN_OR_RETURN(std::string weights,
                         SerializeSafetensors(model.tensors, {{"format", "pt"}}));
  ExportSummary summary;
  summary.arch = model.arch;
  summary.classes = model.classes.size();
  summary.tensors = model.tensors.size();
  summary.bytes = weights.size();
  summary.merged = run.manifest.lora.rank > 0;
  json classes = model.classes;
  const std::pair<const char*, std::string> files[] = {
      {"model.safetensors", weights},
      {"preprocessing.json", PreprocessingToJson(model.preprocessing).dump(2) + "\n"},
      {"classes.json", classes.dump(2) + "\n"},
  };
  for (const auto& [name, bytes] : files) {
    VREPO_RETURN_IF_ERROR(WriteFileAtomic(JoinPath(tmp, name), bytes, 0644, /*durable=*/true));
  }
  return summary;
}

}  // namespace

Result<ExportSummary> ExportModel(Repository& repo, const RunRecord& run, const std::string& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) == 0) return Status::InvalidArgument(dir + ": exists");
  std::string base = dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const std::string parent = ParentPath(base);
  if (!IsDir(parent.empty() ? "." : parent)) {
    return Status::NotFound(dir + ": no folder " + parent + " to create it in");
  }
  std::string tmp = base + ".tmp-XXXXXX";
  if (::mkdtemp(tmp.data()) == nullptr) {
    return Status::IOError(tmp + ": cannot create: " + std::strerror(errno));
  }
  Result<ExportSummary> summary = [&]() -> Result<ExportSummary> {
    try {
      return WriteExport(repo, run, tmp);
    } catch (const std::exception& e) {
      std::string what = e.what();
      return Status::InvalidArgument("export: " + what.substr(0, what.find('\n')));
    }
  }();
  if (summary.ok() && ::rename(tmp.c_str(), base.c_str()) != 0) {
    // A folder created meanwhile is not overwritten (rename(2) refuses a non-empty one).
    summary = Status::InvalidArgument(dir + ": cannot create: " + std::strerror(errno));
  }
  if (!summary.ok()) {
    (void)RemoveTree(tmp);
    return summary;
  }
  (void)SyncDir(parent.empty() ? "." : parent);
  return summary;
}

}  // namespace vrepo::train
