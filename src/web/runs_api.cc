// The runs table, a run's page and a confusion cell's samples (pages_api.h), from run records
// read through runs/ and the record's predictions/val.csv.
#include <algorithm>
#include <cmath>

#include "pages_api.h"
#include "vrepo/dataset/label_table.h"
#include "vrepo/runs/run_summary.h"

namespace vrepo::web {
namespace {

constexpr const char* kPredictionsFile = "predictions/val.csv";
constexpr uint64_t kMaxPredictionsBytes = 64ull << 20;
constexpr size_t kMaxSuspects = 50;

struct Prediction {
  std::string path, label, predicted;
  double p_label = 0;
};

// A run name, a ref under refs/runs/ or a commit id: what ResolveRunCommit takes.
Status CheckRunId(const std::string& id) {
  if (id.empty() || id.size() > 256 || id.find("..") != std::string::npos || id.front() == '/' ||
      id.back() == '/') {
    return Status::InvalidArgument("run '" + id + "': not a run name or commit id");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/' || c == '@' || c == '+';
    if (!ok) return Status::InvalidArgument("run '" + id + "': not a run name or commit id");
  }
  return Status::OK();
}

// The record's predictions/val.csv (header path,label,predicted,p_label,p_predicted), parsed as
// the stranger's file it may be: an empty list when the record has none.
Result<std::vector<Prediction>> ReadPredictions(Repository& repo, const std::string& run_commit) {
  auto file = repo.history().FileAt(run_commit, kPredictionsFile);
  if (!file.ok()) {
    if (file.status().code() == Status::Code::kNotFound) return std::vector<Prediction>{};
    return file.status();
  }
  const std::string where = "run " + run_commit.substr(0, 12) + ": " + kPredictionsFile;
  if (file->size > kMaxPredictionsBytes) {
    return Status::InvalidArgument(where + ": larger than " + std::to_string(kMaxPredictionsBytes) +
                                   " bytes");
  }
  VREPO_ASSIGN_OR_RETURN(std::string text, repo.store().Get(file->id));
  // Each parse reads two columns; three give all four, every record checked by the parser.
  auto parse = [&](const std::string& column) {
    TableOptions columns;
    columns.label_column = column;
    return ParseCsvTable(text, where, columns);
  };
  VREPO_ASSIGN_OR_RETURN(LabelTable labels, parse("label"));
  VREPO_ASSIGN_OR_RETURN(LabelTable predicted, parse("predicted"));
  VREPO_ASSIGN_OR_RETURN(LabelTable p_label, parse("p_label"));
  std::vector<Prediction> out;
  out.reserve(labels.rows.size());
  for (size_t i = 0; i < labels.rows.size(); ++i) {
    const std::string& p = p_label.rows[i].label;
    char* end = nullptr;
    double value = std::strtod(p.c_str(), &end);
    if (p.empty() || *end != '\0' || !std::isfinite(value) || value < 0 || value > 1) {
      return Status::InvalidArgument(where + ":" + std::to_string(labels.rows[i].line) +
                                     ": p_label '" + p + "' is not a probability");
    }
    out.push_back(
        Prediction{labels.rows[i].path, labels.rows[i].label, predicted.rows[i].label, value});
  }
  return out;
}

// Samples as the pages show them, with the content id of each path at the run's dataset commit
// ("" when it has none).
Json PredictionsJson(Repository& repo, const std::string& dataset_commit,
                     const std::vector<const Prediction*>& rows) {
  Json out = Json::array();
  for (const Prediction* p : rows) {
    std::string id;
    if (!dataset_commit.empty() && CheckRepoPathParam("path", p->path).ok()) {
      auto file = repo.history().FileAt(dataset_commit, p->path);
      if (file.ok()) id = file->id.Hex();
    }
    out.push_back(Json{{"path", p->path},
                       {"id", id},
                       {"label", p->label},
                       {"predicted", p->predicted},
                       {"p_label", p->p_label}});
  }
  return out;
}

Json OptionalJson(std::optional<double> v) { return v ? Json(*v) : Json(nullptr); }

Json RunRowJson(const runs::RunSummary& run, const std::vector<std::string>& metrics) {
  Json best = Json::object(), last = Json::object();
  for (const std::string& m : metrics) {
    best[m] = OptionalJson(runs::BestMetric(run, m));
    last[m] = OptionalJson(runs::LastMetric(run, m));
  }
  return Json{{"name", run.DisplayName()},
              {"commit", run.commit},
              {"kind", runs::RunKindName(run.kind)},
              {"status", run.status},
              {"what", run.what},
              {"time", run.time},
              {"dataset_commit", run.dataset_commit},
              {"config", run.config},
              {"best", std::move(best)},
              {"last", std::move(last)}};
}

}  // namespace

Result<Json> RunsJson(Repository& repo, const std::string& sort, bool desc) {
  VREPO_ASSIGN_OR_RETURN(std::vector<runs::RunSummary> all, runs::ListRunSummaries(repo));
  std::vector<std::string> metrics = runs::MetricNames(all);
  const std::vector<std::string> columns = runs::DifferingSettings(all);
  std::vector<const runs::RunSummary*> order;
  for (const auto& run : all) order.push_back(&run);
  if (sort.empty()) {
    std::reverse(order.begin(), order.end());  // newest first
  } else {
    if (std::find(metrics.begin(), metrics.end(), sort) == metrics.end()) {
      return Status::InvalidArgument("sort: no run has a metric '" + sort + "'");
    }
    // Runs without the metric go last, whichever the direction.
    std::stable_sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
      auto va = runs::BestMetric(*a, sort), vb = runs::BestMetric(*b, sort);
      if (!va || !vb) return va.has_value() && !vb.has_value();
      return desc ? *va > *vb : *va < *vb;
    });
  }
  Json rows = Json::array();
  for (const auto* run : order) rows.push_back(RunRowJson(*run, metrics));
  return Json{{"columns", columns}, {"metrics", metrics}, {"runs", std::move(rows)}};
}

Result<Json> RunJson(Repository& repo, const std::string& id) {
  VREPO_RETURN_IF_ERROR(CheckRunId(id));
  VREPO_ASSIGN_OR_RETURN(runs::RunSummary run, runs::ReadRunSummary(repo, id));
  Json out = RunRowJson(run, runs::MetricNames({run}));
  Json metrics = Json::array();
  for (const auto& row : run.metrics) metrics.push_back(row);
  out["metrics"] = std::move(metrics);
  out["classes"] = run.classes;
  out["confusion"] = run.confusion;
  out["record"] = run.record;
  out["seconds"] = run.seconds;
  auto predictions = ReadPredictions(repo, run.commit);
  std::vector<const Prediction*> suspects;
  if (predictions.ok()) {
    for (const Prediction& p : *predictions) {
      if (p.predicted != p.label) suspects.push_back(&p);
    }
    std::stable_sort(suspects.begin(), suspects.end(),
                     [](const auto* a, const auto* b) { return a->p_label < b->p_label; });
    if (suspects.size() > kMaxSuspects) suspects.resize(kMaxSuspects);
  } else {
    // The rest of the record is still worth showing.
    out["predictions_error"] = predictions.status().message();
  }
  out["suspects"] = PredictionsJson(repo, run.dataset_commit, suspects);
  return out;
}

Result<Json> RunSamplesJson(Repository& repo, const std::string& id, const std::string& label,
                            const std::string& predicted) {
  VREPO_RETURN_IF_ERROR(CheckRunId(id));
  VREPO_ASSIGN_OR_RETURN(runs::RunSummary run, runs::ReadRunSummary(repo, id));
  VREPO_ASSIGN_OR_RETURN(std::vector<Prediction> predictions, ReadPredictions(repo, run.commit));
  std::vector<const Prediction*> cell;
  uint64_t matched = 0;
  for (const Prediction& p : predictions) {
    if (p.label != label || p.predicted != predicted) continue;
    if (++matched <= kMaxListed) cell.push_back(&p);
  }
  return Json{{"samples", PredictionsJson(repo, run.dataset_commit, cell)}, {"matched", matched}};
}

}  // namespace vrepo::web
