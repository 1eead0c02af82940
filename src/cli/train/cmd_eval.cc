// vrepo eval ID --labels TABLE [REV]: a run's model on any dataset version. Read-only.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "table_source.h"
#include "train_cli.h"
#include "vrepo/train/failures.h"
#include "vrepo/train/run_model.h"
#include "vrepo/util/file.h"

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

struct EvalArgs {
  std::string id;
  std::string rev = "HEAD";
  std::string labels;
  TableOptions columns;
  std::string device = "auto";
  int batch_size = 256;
  size_t suspects = 0;
  std::string failures;  // OUT.csv, relative to the current folder
  bool force = false;
  uint64_t max_image_pixels = kDefaultMaxImagePixels;
  bool json = false;
};

json PredictionJson(const train::Prediction& p) {
  return {{"path", p.path},
          {"label", p.label},
          {"predicted", p.predicted},
          {"confidence", p.confidence},
          {"label_probability", p.label_probability}};
}

// The likeliest label errors, in the order Suspects ranks them: the label's probability, lowest
// first, beside the predicted class's.
void PrintSuspects(const std::vector<train::Prediction>& suspects) {
  Print("\n" + std::to_string(suspects.size()) +
        " suspects (the model most confidently disagrees with the label), lowest P(LABEL) "
        "first:\n");
  std::vector<std::vector<std::string>> rows = {
      {"  PATH", "LABEL", "P(LABEL)", "PREDICTED", "P(PREDICTED)"}};
  for (const auto& p : suspects) {
    rows.push_back({"  " + QuotePath(p.path, false), p.label,
                    Fixed(100 * p.label_probability, 1) + "%", p.predicted,
                    Fixed(100 * p.confidence, 1) + "%"});
  }
  PrintTable(rows);
}

int RunEval(const Globals& g, const EvalArgs& a) {
  // The failures file is checked before the model runs, so a refusal costs nothing.
  std::string failures_path;
  if (!a.failures.empty()) {
    failures_path = a.failures[0] == '/' ? a.failures : g.cwd + "/" + a.failures;
    if (failures_path.size() < 4 || failures_path.compare(failures_path.size() - 4, 4, ".csv")) {
      return FailWith("eval", "--failures " + a.failures + ": must name a .csv file", kExitFatal);
    }
    if (!a.force && access(failures_path.c_str(), F_OK) == 0) {
      return FailWith("eval", a.failures + ": already exists (--force overwrites it)", kExitFatal);
    }
  }
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("eval", repo.status());
  auto run = train::ReadRun(**repo, a.id);
  if (!run.ok()) return Fail("eval", run.status());
  // A LoRA run's adapter merged into its base.
  auto weights = train::RunModelWeights(**repo, *run);
  if (!weights.ok()) return Fail("eval", weights.status());
  train::EvalOptions options;
  options.rev = a.rev;
  auto table = CommittedTablePath(**repo, g, a.rev, a.labels, CliReporter());
  if (!table.ok()) return Fail("eval", table.status());
  options.labels = *table;
  options.path_column = a.columns.path_column;
  options.label_column = a.columns.label_column;
  options.batch_size = a.batch_size;
  options.device = a.device;
  options.max_image_pixels = a.max_image_pixels;
  auto result = train::Evaluate(**repo, *weights, options);
  if (!result.ok()) return Fail("eval", WithTableHint(result.status(), a.columns));
  std::vector<train::Prediction> suspects = train::Suspects(*result, a.suspects);
  size_t failures = 0;
  if (!failures_path.empty()) {
    std::vector<train::Prediction> wrong = train::Failures(*result);
    failures = wrong.size();
    Status written = WriteFileAtomic(failures_path, train::FailuresCsv(wrong, a.columns));
    if (!written.ok()) return Fail("eval: --failures", written);
  }

  if (a.json) {
    json predictions = json::array();
    for (const auto& p : result->predictions) predictions.push_back(PredictionJson(p));
    json sus = json::array();
    for (const auto& p : suspects) sus.push_back(PredictionJson(p));
    json out = {{"run", RunRefJson(*run)},
                {"dataset", {{"commit", result->commit}, {"tree", result->tree}}},
                {"table", options.labels},
                {"sample_digest", result->sample_digest},
                {"samples", result->samples},
                {"loss", result->loss},
                {"accuracy", result->accuracy},
                {"classes", result->classes},
                {"per_class_accuracy", result->per_class_accuracy},
                {"confusion", result->confusion},
                {"suspects", sus},
                {"predictions", predictions}};
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  std::string out = "run " + run->DisplayName() + " on " + options.labels + " at " +
                    ShortId(result->commit) + ": " + std::to_string(result->samples) +
                    " samples\naccuracy: " + Fixed(100 * result->accuracy, 2) +
                    "%  loss: " + Fixed(result->loss, 4) + "\n\nper class:\n";
  size_t width = 5;
  for (const auto& c : result->classes) width = std::max(width, c.size());
  for (const auto& [label, acc] : result->per_class_accuracy) {
    out += "  " + label + std::string(width - label.size() + 2, ' ') + Fixed(100 * acc, 2) + "%\n";
  }
  // Rows: true class; columns: predicted, in the order of the classes list.
  out += "\nconfusion (rows: label, columns: predicted, in the order above):\n";
  for (size_t i = 0; i < result->confusion.size(); ++i) {
    std::string label = i < result->classes.size() ? result->classes[i] : std::to_string(i);
    out += "  " + label + std::string(width - label.size() + 2, ' ');
    for (int64_t v : result->confusion[i]) {
      std::string cell = std::to_string(v);
      out += std::string(cell.size() < 6 ? 6 - cell.size() : 1, ' ') + cell;
    }
    out += "\n";
  }
  Print(out);
  if (a.suspects > 0) PrintSuspects(suspects);
  if (!failures_path.empty()) {
    Print("\n" + std::to_string(failures) + " misclassified samples written to " + a.failures +
          " (path, label, predicted, probability)\n");
  }
  return kExitOk;
}

}  // namespace

Command RegisterEval(CLI::App& app, Globals& g) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand(
      "eval",
      "Evaluate a run's model on a label table at any commit\n"
      "Loads the weights of run ID and classifies the samples of TABLE at REV (default HEAD), "
      "read from the store: accuracy, loss, per-class accuracy and the confusion matrix; "
      "--json adds every sample's prediction. --suspects N lists the N samples whose label the "
      "model most confidently disagrees with: likely label errors. Read-only.");
  sub->add_option("ID", a->id, "Run name or commit id")->required();
  sub->add_option("REV", a->rev, "The dataset commit (default HEAD)");
  sub->add_option("--labels", a->labels, "Label table (.csv, .jsonl or class folders)")
      ->required()
      ->type_name("TABLE");
  AddColumnOptions(sub, &a->columns);
  sub->add_option("--suspects", a->suspects, "List the N likeliest label errors")->type_name("N");
  sub->add_option("--failures", a->failures,
                  "Write the misclassified samples to OUT.csv as a label table (path, label, "
                  "predicted, probability): review, fix the labels, commit")
      ->type_name("OUT.csv");
  sub->add_flag("--force", a->force, "Overwrite the --failures file if it exists");
  sub->add_option("--batch-size", a->batch_size, "Batch size")->capture_default_str();
  sub->add_option("--device", a->device, "auto, cpu or cuda")->capture_default_str();
  sub->add_option("--max-image-pixels", a->max_image_pixels,
                  "Refuse images whose header claims more pixels")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_flag("--json", a->json, "Machine-readable output, with per-sample predictions");
  return {sub, [&g, a] { return RunEval(g, *a); }};
}

}  // namespace vrepo::cli
