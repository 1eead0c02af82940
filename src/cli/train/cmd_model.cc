// vrepo model import FILE --arch ARCH | model list | model show NAME | model rm NAME: base
// models as versioned objects under refs/models/. list and show open the repository without
// the writer lock.
#include <nlohmann/json.hpp>
#include <sstream>

#include "train_cli.h"
#include "vrepo/train/model_store.h"
#include "vrepo/train/models.h"

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

json ModelJson(const train::ModelRecord& m) {
  json out = train::ModelInfoToJson(m.info);
  out["name"] = m.name;
  out["commit"] = m.commit;
  out["ref"] = "refs/models/" + m.name;
  out["date"] = FormatIsoDate(m.time, 0);
  out["time"] = m.time;
  return out;
}

std::string Numbers(const std::vector<double>& v) {
  std::string out;
  for (double x : v) {
    std::ostringstream s;
    s << x;
    out += (out.empty() ? "" : ",") + s.str();
  }
  return out;
}

// "R,G,B" (or one value for one channel) into numbers; an empty list when not given.
Result<std::vector<double>> ParseNumbers(const std::string& flag, const std::string& text) {
  std::vector<double> out;
  if (text.empty()) return out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      return Status::InvalidArgument(flag + " '" + text + "': not a list of numbers (R,G,B)");
    }
    out.push_back(v);
  }
  return out;
}

struct ImportArgs {
  std::string file;
  train::ImportOptions options;
  std::string mean, std;
  bool json = false;
};

int ModelImport(const Globals& g, ImportArgs& a) {
  auto mean = ParseNumbers("--mean", a.mean);
  if (!mean.ok()) return Fail("model import", mean.status());
  auto std = ParseNumbers("--std", a.std);
  if (!std.ok()) return Fail("model import", std.status());
  a.options.mean = *mean;
  a.options.std = *std;
  const std::string path = a.file[0] == '/' ? a.file : g.cwd + "/" + a.file;
  const std::string classes_typed = a.options.classes_file;
  if (!a.options.classes_file.empty() && a.options.classes_file[0] != '/') {
    a.options.classes_file = g.cwd + "/" + a.options.classes_file;
  }
  if (a.options.name.empty()) {
    // The stem of the name as typed, so that errors and refs read as the user wrote it.
    std::string base =
        a.file.substr(a.file.rfind('/') == std::string::npos ? 0 : a.file.rfind('/') + 1);
    size_t dot = base.rfind('.');
    a.options.name = dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
  }
  auto repo = OpenRepository(g, /*write=*/true);
  if (!repo.ok()) return Fail("model import", repo.status());
  auto model = train::ImportModel(**repo, path, a.options);
  if (!model.ok()) {
    // Paths in messages as typed, not absolute.
    std::string msg = model.status().message();
    for (const auto& [abs, typed] :
         {std::pair{path, a.file}, std::pair{a.options.classes_file, classes_typed}}) {
      if (abs.empty() || typed.empty()) continue;
      for (size_t at = msg.find(abs); at != std::string::npos; at = msg.find(abs, at + 1)) {
        msg.replace(at, abs.size(), typed);
      }
    }
    return FailWith("model import", msg, kExitFatal);
  }
  if (a.json) {
    Print(ModelJson(*model).dump(2) + "\n");
  } else {
    const train::ModelInfo& m = model->info;
    Print("model " + model->name + " imported: " + m.arch + ", " + std::to_string(m.num_classes) +
          " classes, " + std::to_string(m.parameters) + " parameters, from " + m.source_file +
          " (" + m.source_format + ", sha256 " + m.source_sha256.substr(0, 12) + ")\n" +
          "recorded: " + model->commit + " (refs/models/" + model->name + ")\n");
  }
  return kExitOk;
}

int ModelList(const Globals& g, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("model list", repo.status());
  auto models = train::ListModels(**repo);
  if (!models.ok()) return Fail("model list", models.status());
  if (as_json) {
    json out = json::array();
    for (const auto& m : *models) out.push_back(ModelJson(m));
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  if (models->empty()) {
    Print("no models (vrepo model import FILE --arch ARCH adds one)\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "COMMIT", "ARCH", "CLASSES", "INPUT", "PARAMETERS", "SOURCE"}};
  for (const auto& m : *models) {
    rows.push_back({m.name, ShortId(m.commit), m.info.arch, std::to_string(m.info.num_classes),
                    std::to_string(m.info.preprocessing.crop), std::to_string(m.info.parameters),
                    m.info.source_file});
  }
  PrintTable(rows);
  return kExitOk;
}

int ModelShow(const Globals& g, const std::string& name, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("model show", repo.status());
  auto model = train::ReadModel(**repo, name);
  if (!model.ok()) return Fail("model show", model.status());
  if (as_json) {
    Print(ModelJson(*model).dump(2) + "\n");
    return kExitOk;
  }
  const train::ModelInfo& m = model->info;
  const train::Preprocessing& p = m.preprocessing;
  std::string classes;
  for (size_t i = 0; i < m.classes.size() && i < 10; ++i) {
    classes += (i ? ", " : "") + m.classes[i];
  }
  if (m.classes.size() > 10) classes += ", ... (" + std::to_string(m.classes.size()) + ")";
  Print("model " + model->name + "\ncommit " + model->commit +
        "\ndate: " + FormatIsoDate(model->time, 0) + "\narch: " + m.arch + "\nparameters: " +
        std::to_string(m.parameters) + "\nclasses: " + classes + "\npreprocessing: resize " +
        std::to_string(p.resize) + ", crop " + std::to_string(p.crop) + ", mean " +
        Numbers(p.mean) + ", std " + Numbers(p.std) + ", " + std::to_string(p.channels) +
        " channels, " + p.interpolation + "\nsource: " + m.source_file + " (" + m.source_format +
        ") sha256 " + m.source_sha256 + "\nweights: model.safetensors " + m.weights_id + " (" +
        std::to_string(m.weights_size) + " bytes)\n");
  return kExitOk;
}

int ModelRemove(const Globals& g, const std::vector<std::string>& names, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/true);
  if (!repo.ok()) return Fail("model rm", repo.status());
  // Every model is found before any is removed, so a typo removes nothing.
  std::vector<train::ModelRecord> models;
  for (const auto& name : names) {
    auto model = train::ReadModel(**repo, name);
    if (!model.ok()) return Fail("model rm", model.status());
    models.push_back(std::move(model).value());
  }
  json out = json::array();
  for (const auto& m : models) {
    if (Status st = train::RemoveModel(**repo, m); !st.ok()) return Fail("model rm", st);
    if (as_json) {
      out.push_back({{"name", m.name}, {"commit", m.commit}});
    } else {
      Print("removed model " + m.name + " (was " + ShortId(m.commit) + ")\n");
    }
  }
  if (as_json) Print(out.dump(2) + "\n");
  return kExitOk;
}

}  // namespace

Command RegisterModel(CLI::App& app, Globals& g) {
  struct Opts {
    bool json = false;
    ImportArgs import;
    std::string show_name;
    std::vector<std::string> rm_names;
  };
  auto o = std::make_shared<Opts>();
  std::string archs;
  for (const std::string& n : train::ModelNames()) archs += (archs.empty() ? "" : ", ") + n;
  CLI::App* sub = app.add_subcommand(
      "model",
      "Import base models and list, show or remove them\n"
      "`model import FILE --arch ARCH` reads a torchvision checkpoint (torch.save of a "
      "state_dict, zip or legacy format; nothing in the file is executed, and a pickle naming "
      "anything but tensors, dicts, lists, numbers and strings is refused) or a safetensors "
      "file (torchvision or timm names), checks every tensor against the architecture, and "
      "records it as a commit under refs/models/NAME: model.safetensors and model.json "
      "(architecture, classes, preprocessing, the source file's name and SHA-256). "
      "`vrepo train --base model:NAME` starts from it. `model` lists the models; `model show "
      "NAME` prints one; `model rm NAME` deletes its ref (runs that started from it keep it).");
  sub->require_subcommand(0, 1);
  sub->add_flag("--json", o->json, "Machine-readable output");
  CLI::App* imp = sub->add_subcommand("import", "Import a checkpoint as refs/models/NAME");
  ImportArgs& ia = o->import;
  imp->add_option("FILE", ia.file, "A .pth/.pt checkpoint or a .safetensors file")->required();
  imp->add_option("--arch", ia.options.arch, "The architecture: " + archs)->required();
  imp->add_option("--name", ia.options.name, "Model name (default: the file's name, no extension)");
  imp->add_option("--classes", ia.options.classes_file,
                  "Class names: a text file, one per line, or a JSON list (default 0..N-1)")
      ->type_name("FILE");
  imp->add_option("--mean", ia.mean, "Per-channel mean (default: the architecture's)")
      ->type_name("R,G,B");
  imp->add_option("--std", ia.std, "Per-channel std (default: the architecture's)")
      ->type_name("R,G,B");
  imp->add_option("--input-size", ia.options.input_size,
                  "Input side: the centre crop; the resize scales with it (default 224)");
  imp->add_option("--resize", ia.options.resize,
                  "Side the shorter image side is resized to before the crop (default 256)");
  imp->add_flag("--force", ia.options.force, "Replace an existing model of that name");
  imp->add_flag("--json", ia.json, "Print the recorded model as JSON (as `model show --json`)");
  CLI::App* list = sub->add_subcommand("list", "List the models (the default)");
  list->add_flag("--json", o->json, "Machine-readable output");
  CLI::App* show = sub->add_subcommand("show", "Print one model's record (model.json)");
  show->add_option("NAME", o->show_name, "Model name")->required();
  show->add_flag("--json", o->json, "Machine-readable output");
  CLI::App* rm = sub->add_subcommand(
      "rm", "Remove models: deletes refs/models/NAME; runs that started from it keep it");
  rm->add_option("NAME", o->rm_names, "Model names")->required();
  rm->add_flag("--json", o->json, "Machine-readable output");
  return {sub, [&g, o, imp, show, rm] {
            if (imp->parsed()) return ModelImport(g, o->import);
            if (show->parsed()) return ModelShow(g, o->show_name, o->json);
            if (rm->parsed()) return ModelRemove(g, o->rm_names, o->json);
            return ModelList(g, o->json);
          }};
}

}  // namespace vrepo::cli
