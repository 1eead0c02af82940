// vrepo predict RUN|model:NAME PATH...: the deployment path. Classifies image files from disk
// (or, with --labels, a commit's samples) with a run's or an imported model, through its
// recorded preprocessing, and prints each image's top classes. Read-only.
#include <nlohmann/json.hpp>

#include "table_source.h"
#include "train_cli.h"
#include "vrepo/train/predict.h"
#include "vrepo/util/text.h"

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

struct PredictArgs {
  std::string model;
  std::vector<std::string> paths;
  std::vector<std::string> labels;  // TABLE [REV]
  TableOptions columns;
  size_t top = 5;
  std::string device = "auto";
  int batch_size = 64;
  uint64_t max_image_pixels = kDefaultMaxImagePixels;
  bool json = false;
};

void PrintPredictions(const std::vector<train::ImagePrediction>& predictions, size_t top) {
  std::vector<std::vector<std::string>> rows = {{"PATH"}};
  for (size_t i = 1; i <= top; ++i) rows[0].push_back("TOP " + std::to_string(i));
  for (const auto& p : predictions) {
    std::vector<std::string> row = {QuotePath(p.path, false)};
    for (const auto& c : p.top) row.push_back(c.name + " " + Fixed(100 * c.probability, 2) + "%");
    rows.push_back(std::move(row));
  }
  PrintTable(rows);
}

int RunPredict(const Globals& g, const PredictArgs& a) {
  if (a.top == 0) return FailWith("predict", "--top must be at least 1", kExitFatal);
  if (a.batch_size < 1) return FailWith("predict", "--batch-size must be at least 1", kExitFatal);
  if (a.labels.empty() == a.paths.empty()) {
    return FailWith("predict", "give image files (PATH...) or --labels TABLE [REV], not both",
                    kExitUsage);
  }
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("predict", repo.status());
  auto model = train::ReadPredictModel(**repo, a.model);
  if (!model.ok()) return Fail("predict", model.status());
  train::PredictOptions options;
  options.top = a.top;
  options.batch_size = a.batch_size;
  options.device = a.device;
  options.max_image_pixels = a.max_image_pixels;
  const size_t top = std::min(a.top, model->classes.size());

  // Every prediction is made before anything is printed: a bad file prints one line alone.
  std::vector<train::ImagePrediction> predictions;
  if (!a.labels.empty()) {
    train::EvalOptions eval;
    eval.rev = a.labels.size() > 1 ? a.labels[1] : "HEAD";
    auto table = CommittedTablePath(**repo, g, eval.rev, a.labels[0], CliReporter());
    if (!table.ok()) return Fail("predict", table.status());
    eval.labels = *table;
    eval.path_column = a.columns.path_column;
    eval.label_column = a.columns.label_column;
    auto result = train::PredictTable(**repo, *model, eval, options);
    if (!result.ok()) return Fail("predict", WithTableHint(result.status(), a.columns));
    predictions = std::move(result).value();
  } else {
    std::vector<std::string> files;
    for (const auto& p : a.paths) files.push_back(!p.empty() && p[0] == '/' ? p : g.cwd + "/" + p);
    auto result = train::PredictFiles(*model, files, options);
    if (!result.ok()) {
      std::string message = result.status().message();
      // Errors name the files as given, not as the absolute paths read.
      for (size_t i = 0; i < files.size(); ++i) {
        for (size_t at = message.find(files[i]); at != std::string::npos;
             at = message.find(files[i], at + a.paths[i].size())) {
          message.replace(at, files[i].size(), a.paths[i]);
        }
      }
      return FailWith("predict", message, kExitFailure);
    }
    predictions = std::move(result).value();
    for (size_t i = 0; i < predictions.size(); ++i) predictions[i].path = a.paths[i];
  }

  if (a.json) {
    json out = json::array();
    for (const auto& p : predictions) {
      json classes = json::array();
      for (const auto& c : p.top) {
        classes.push_back({{"index", c.index}, {"class", c.name}, {"probability", c.probability}});
      }
      out.push_back({{"path", p.path}, {"top", classes}});
    }
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  PrintPredictions(predictions, top);
  return kExitOk;
}

}  // namespace

Command RegisterPredict(CLI::App& app, Globals& g) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* sub = app.add_subcommand(
      "predict",
      "Classify image files with a run's or an imported model\n"
      "Reads each PATH from disk and prints its top K classes with their probabilities, "
      "through the model's recorded preprocessing (a LoRA run's adapter merged into its "
      "base). MODEL is a run name or commit id, or model:NAME for an imported model. "
      "--labels TABLE [REV] classifies that table's samples at REV (default HEAD), read from "
      "the store, instead. An image that cannot be read or decoded fails the command before "
      "anything is printed. Read-only.");
  sub->add_option("MODEL", a->model, "Run name or commit id, or model:NAME")->required();
  sub->add_option("PATH", a->paths, "Image files (PNG or JPEG)");
  sub->add_option("--labels", a->labels,
                  "Classify the samples of a label table at REV (default HEAD) instead")
      ->expected(1, 2)
      ->type_name("TABLE [REV]");
  AddColumnOptions(sub, &a->columns);
  sub->add_option("--top", a->top, "Classes per image (at most the class count)")
      ->capture_default_str()
      ->type_name("K");
  sub->add_option("--batch-size", a->batch_size, "Batch size")->capture_default_str();
  sub->add_option("--device", a->device, "auto, cpu or cuda")->capture_default_str();
  sub->add_option("--max-image-pixels", a->max_image_pixels,
                  "Refuse images whose header claims more pixels")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_flag("--json", a->json,
                "Machine-readable output: a list of {path, top: [{index, class, probability}]}");
  return {sub, [&g, a] { return RunPredict(g, *a); }};
}

}  // namespace vrepo::cli
