#include "vrepo/train/reproduce.h"

#include <cmath>
#include <cstdio>
#include <tuple>
#include <utility>

#include "vrepo/store/content_id.h"
#include "vrepo/train/distributed.h"

namespace vrepo::train {

using json = nlohmann::json;

bool ReproReport::ok() const {
  if (interrupted) return false;
  for (const auto& f : fields) {
    if (!f.match && f.required) return false;
  }
  return true;
}

Result<TrainConfig> ReproConfig(const RunRecord& run, const ReproOptions& options) {
  const RunManifest& rec = run.manifest;
  // Every recorded config names its label table.
  if (rec.config.labels.empty()) {
    return Status::Corruption("run " + run.DisplayName() + " run.json: no config recorded");
  }
  TrainConfig config = rec.config;
  if (!rec.dataset_commit.empty()) config.rev = rec.dataset_commit;
  config.name.clear();
  config.max_image_pixels = options.max_image_pixels;
  // The recorded preprocessing, not one resolved again (a base or a default may have moved on).
  if (rec.legacy_preprocessing) {
    config.legacy_preprocessing = true;
  } else {
    config.preprocessing = rec.preprocessing;
  }
  // An interrupted run is re-run for the epochs it completed. Older vrepo recorded runs
  // stopped before their first epoch: there is nothing of them to replay.
  if (rec.status == RunStatus::kInterrupted) {
    if (rec.epochs.empty()) {
      return Status::InvalidArgument("run " + run.DisplayName() +
                                     " was interrupted before its first epoch ended: it has no "
                                     "metrics or sample digests to reproduce");
    }
    config.epochs = static_cast<int>(rec.epochs.size());
  }
  return config;
}

Result<ReproReport> Reproduce(Repository& repo, const RunRecord& run, const ReproOptions& options) {
  const RunManifest& rec = run.manifest;
  VREPO_ASSIGN_OR_RETURN(TrainConfig config, ReproConfig(run, options));
  // Batch norm's statistics and the order of the gradient sums depend on the world size.
  const int world = options.hooks.group != nullptr ? options.hooks.group->world_size() : 1;
  if (rec.distributed.world_size != world) {
    return Status::InvalidArgument("run " + run.DisplayName() + " was trained by " +
                                   std::to_string(rec.distributed.world_size) +
                                   " processes; this reproduction has " + std::to_string(world));
  }
  ReproReport report;
  report.deterministic = config.deterministic;
  VREPO_ASSIGN_OR_RETURN(TrainResult result, Train(repo, config, options.hooks));
  if (result.status == RunStatus::kInterrupted) {
    report.interrupted = true;
    return report;
  }

  const bool deterministic = report.deterministic;
  auto& fields = report.fields;
  auto exact = [&](const std::string& name, const json& a, const json& b, bool required) {
    fields.push_back({name, a, b, a == b, required, ""});
  };
  exact("dataset commit", rec.dataset_commit, result.dataset_commit, true);
  exact("dataset tree", rec.dataset_tree, result.dataset_tree, true);
  exact("train sample digest", rec.train.sample_digest, result.train_digest, true);
  exact("val sample digest", rec.val.sample_digest, result.val_digest, true);
  exact("base model content id", rec.base_model_id, result.base_model_id, true);
  if (world > 1) {
    exact("ranks' train sample digests", rec.distributed.train_digests,
          result.distributed.train_digests, true);
  }
  exact("epochs", json(rec.epochs.size()), json(result.epochs.size()), deterministic);
  for (size_t i = 0; i < rec.epochs.size(); ++i) {
    const EpochMetrics& e = rec.epochs[i];
    const EpochMetrics* m = i < result.epochs.size() ? &result.epochs[i] : nullptr;
    for (const auto& [key, recorded, value] : std::vector<std::tuple<std::string, double, double>>{
             {"train_loss", e.train_loss, m ? m->train_loss : NAN},
             {"val_loss", e.val_loss, m ? m->val_loss : NAN},
             {"val_accuracy", e.val_accuracy, m ? m->val_accuracy : NAN}}) {
      // NaN (no validation split) is recorded as null, and null matches null.
      json a = std::isnan(recorded) ? json() : json(recorded);
      json b = m && !std::isnan(value) ? json(value) : json();
      ReproField f{"epoch " + std::to_string(i + 1) + " " + key, a, b, a == b, deterministic, ""};
      if (!f.match && a.is_number() && b.is_number()) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "|diff| %.2g", std::fabs(recorded - value));
        f.note = buf;
      }
      fields.push_back(std::move(f));
    }
  }
  exact("weights content id", rec.weights_id, ContentId::Of(result.weights).Hex(), deterministic);
  // Informational: a different libtorch or vrepo build may explain a difference.
  exact("vrepo source revision", rec.versions.source_revision, result.versions.source_revision,
        false);
  exact("libtorch", rec.versions.libtorch, result.versions.libtorch, false);
  exact("device", rec.versions.device_name, result.versions.device_name, false);
  if (!rec.versions.blas.empty()) {
    exact("BLAS kernels", rec.versions.blas, result.versions.blas, false);
  }
  return report;
}

}  // namespace vrepo::train
