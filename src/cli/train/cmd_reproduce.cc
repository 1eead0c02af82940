// vrepo reproduce ID: re-runs a recorded run's config on its recorded dataset commit and
// reports, field by field, what matched. It records nothing: a reproduction is a check, it
// opens the repository read-only and never blocks or is blocked by a writer.
#include <cmath>
#include <nlohmann/json.hpp>

#include "train_cli.h"
#include "vrepo/store/content_id.h"
#include "vrepo/train/config.h"

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

struct Field {
  std::string name;
  json recorded, reproduced;
  bool match = false;
  bool required = true;  // whether a mismatch fails the reproduction
  std::string note;      // e.g. "|diff| 1.2e-05"
};

std::string Str(const json& j, const char* ptr) {
  json::json_pointer p(ptr);
  return j.contains(p) && j.at(p).is_string() ? j.at(p).get<std::string>() : "";
}

std::string Cell(const json& v) {
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>().substr(0, 24);
  if (v.is_number_float()) return Fixed(v.get<double>(), 6);
  return v.dump();
}

int RunReproduce(const Globals& g, const std::string& id, uint64_t max_image_pixels,
                 bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("reproduce", repo.status());
  auto run = train::ReadRun(**repo, id);
  if (!run.ok()) return Fail("reproduce", run.status());
  const json& rec = run->run;
  const std::string source = "run " + RunName(*run) + " run.json";
  if (!rec.contains("config")) {
    return FailWith("reproduce", source + ": no config recorded", kExitFatal);
  }
  auto parsed = train::ConfigFromJson(rec["config"], source);
  if (!parsed.ok()) return Fail("reproduce", parsed.status());
  train::TrainConfig config = std::move(parsed).value();
  // The recorded commit, not whatever the recorded revision names today.
  std::string dataset_commit = Str(rec, "/dataset/commit");
  if (!dataset_commit.empty()) config.rev = dataset_commit;
  config.name.clear();
  config.max_image_pixels = max_image_pixels;
  // An interrupted run is re-run for the epochs it completed.
  size_t recorded_epochs = rec.contains("epochs") ? rec["epochs"].size() : 0;
  if (Str(rec, "/status") == "interrupted" && recorded_epochs > 0) {
    config.epochs = static_cast<int>(recorded_epochs);
  }
  const bool deterministic = config.deterministic;
  if (!as_json) {
    Print("reproducing run " + RunName(*run) + " (" + run->commit + ") on dataset commit " +
          dataset_commit + "\n");
  }
  train::TrainHooks hooks;
  hooks.interrupted = InstallInterruptHandler();
  hooks.progress = ProgressPrinter(as_json);
  auto result = train::Train(**repo, config, hooks);
  if (!result.ok()) return Fail("reproduce", result.status());
  if (result->status == "interrupted") {
    return FailWith("reproduce", "interrupted; nothing compared", kExitInterrupted);
  }

  std::vector<Field> fields;
  auto exact = [&](const std::string& name, const json& a, const json& b, bool required) {
    fields.push_back({name, a, b, a == b, required, ""});
  };
  exact("dataset commit", dataset_commit, result->dataset_commit, true);
  exact("dataset tree", Str(rec, "/dataset/tree"), result->dataset_tree, true);
  exact("train sample digest", Str(rec, "/splits/train/sample_digest"), result->train_digest, true);
  exact("val sample digest", Str(rec, "/splits/val/sample_digest"), result->val_digest, true);
  exact("base model content id", Str(rec, "/base/model_content_id"), result->base_model_id, true);
  exact("epochs", json(recorded_epochs), json(result->epochs.size()), deterministic);
  // Without deterministic mode, floating-point sums run in varying orders: metrics and weights
  // are reported but cannot be required to match.
  for (size_t i = 0; i < recorded_epochs; ++i) {
    const json& e = rec["epochs"][i];
    const train::EpochMetrics* m = i < result->epochs.size() ? &result->epochs[i] : nullptr;
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, double>>{{"train_loss", m ? m->train_loss : NAN},
                                                     {"val_loss", m ? m->val_loss : NAN},
                                                     {"val_accuracy", m ? m->val_accuracy : NAN}}) {
      json a = e.value(key, json());
      json b = m ? json(value) : json();
      Field f{"epoch " + std::to_string(i + 1) + " " + key, a, b, a == b, deterministic, ""};
      if (!f.match && a.is_number() && m) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "|diff| %.2g", std::fabs(a.get<double>() - value));
        f.note = buf;
      }
      fields.push_back(std::move(f));
    }
  }
  exact("weights content id", Str(rec, "/weights/content_id"), ContentId::Of(result->weights).Hex(),
        deterministic);
  // Informational: a different libtorch or vrepo build may explain a difference.
  for (const auto& [name, ptr, now] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"vrepo source revision", "/versions/source_revision", result->versions.source_revision},
           {"libtorch", "/versions/libtorch", result->versions.libtorch},
           {"device", "/device", result->versions.device_name}}) {
    exact(name, Str(rec, ptr.c_str()), now, false);
  }

  bool ok = true;
  for (const auto& f : fields) ok = ok && (f.match || !f.required);
  if (as_json) {
    json list = json::array();
    for (const auto& f : fields) {
      list.push_back({{"field", f.name},
                      {"recorded", f.recorded},
                      {"reproduced", f.reproduced},
                      {"match", f.match},
                      {"required", f.required}});
    }
    json out = {{"run", RunName(*run)},
                {"commit", run->commit},
                {"deterministic", deterministic},
                {"ok", ok},
                {"fields", list}};
    Print(out.dump(2) + "\n");
    return ok ? kExitOk : kExitFailure;
  }
  size_t width = 0;
  for (const auto& f : fields) width = std::max(width, f.name.size());
  for (const auto& f : fields) {
    std::string verdict = f.match ? "match" : f.required ? "MISMATCH" : "differs (not required)";
    if (!f.note.empty()) verdict += " " + f.note;
    std::string line = f.name + std::string(width - f.name.size() + 2, ' ') + Cell(f.recorded);
    if (!f.match) line += " -> " + Cell(f.reproduced);
    Print(line + "  " + verdict + "\n");
  }
  Print(ok ? std::string("reproduced: every required field matched") +
                 (deterministic ? " (deterministic run: weights bit for bit)\n" : "\n")
           : "not reproduced: a required field differs\n");
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

Command RegisterReproduce(CLI::App& app, Globals& g) {
  struct Opts {
    std::string id;
    uint64_t max_image_pixels = kDefaultMaxImagePixels;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "reproduce",
      "Re-run a recorded run and report what matched, field by field\n"
      "Trains again with the run's recorded config on its recorded dataset commit and compares "
      "dataset commit and tree, sample digests, base model, metrics per epoch and the weights' "
      "content id. Exit 0 when every required field matched: the data always; metrics and "
      "weights (bit for bit) when the run was --deterministic. Exit 1 otherwise. Records "
      "nothing and opens the repository read-only.");
  sub->add_option("ID", o->id, "Run name or commit id")->required();
  sub->add_option("--max-image-pixels", o->max_image_pixels,
                  "Refuse images whose header claims more pixels")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_flag("--json", o->json, "Machine-readable output");
  return {sub, [&g, o] { return RunReproduce(g, o->id, o->max_image_pixels, o->json); }};
}

}  // namespace vrepo::cli
