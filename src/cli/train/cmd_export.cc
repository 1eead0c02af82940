// vrepo export RUN --out DIR: the run's model as files for use outside vrepo (a LoRA adapter
// merged into its base): model.safetensors with torchvision's names, preprocessing.json and
// classes.json. Read-only; DIR must not exist.
#include <nlohmann/json.hpp>

#include "train_cli.h"
#include "vrepo/train/export.h"

namespace vrepo::cli {
namespace {

struct ExportArgs {
  std::string id;
  std::string out;
  bool json = false;
};

int RunExport(const Globals& g, const ExportArgs& a) {
  const std::string dir = !a.out.empty() && a.out[0] == '/' ? a.out : g.cwd + "/" + a.out;
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("export", repo.status());
  auto run = train::ReadRun(**repo, a.id);
  if (!run.ok()) return Fail("export", run.status());
  auto summary = train::ExportModel(**repo, *run, dir);
  if (!summary.ok()) return Fail("export", summary.status());
  if (a.json) {
    nlohmann::json out = {{"run", RunRefJson(*run)},       {"out", dir},
                          {"model", summary->arch},        {"classes", summary->classes},
                          {"tensors", summary->tensors},   {"bytes", summary->bytes},
                          {"merged_lora", summary->merged}};
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  Print("exported run " + run->DisplayName() + " (" + summary->arch + ", " +
        std::to_string(summary->classes) + " classes" +
        (summary->merged ? ", LoRA adapter merged" : "") + ") to " + a.out +
        ": model.safetensors, preprocessing.json, classes.json\n");
  return kExitOk;
}

}  // namespace

Command RegisterExport(CLI::App& app, Globals& g) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* sub = app.add_subcommand(
      "export",
      "Write a run's model as files for use outside vrepo\n"
      "Writes DIR/model.safetensors (every tensor under torchvision's names, a LoRA run's "
      "adapter merged into its base, so torchvision.models.ARCH(num_classes=N)"
      ".load_state_dict(..., strict=True) takes it), DIR/preprocessing.json (the run's "
      "resize, crop, mean, std, channels, interpolation) and DIR/classes.json (class names by "
      "output index). DIR must not exist; it appears whole or not at all. Read-only.");
  sub->add_option("RUN", a->id, "Run name or commit id")->required();
  sub->add_option("--out", a->out, "The folder to create")->required()->type_name("DIR");
  sub->add_flag("--json", a->json, "Print what was written as JSON");
  return {sub, [&g, a] { return RunExport(g, *a); }};
}

}  // namespace vrepo::cli
