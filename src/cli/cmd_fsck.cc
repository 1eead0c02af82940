// vrepo fsck [--json]
#include "cli.h"

namespace vrepo::cli {

Command RegisterFsck(CLI::App& app, Globals& g) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand(
      "fsck",
      "Verify the repository\n"
      "Reads every stored object back and checks it against its SHA-256 id, and checks that "
      "every commit, tree and pointer reachable from a ref reads back. Prints one line per "
      "problem, naming the object and the pack file, and exits 1 when there is any. Opens the "
      "repository read-only.");
  sub->add_flag("--json", *as_json, "One JSON object: objects_checked and problems");
  return {sub, [&g, as_json] {
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("fsck", repo.status());
            auto report = Fsck(**repo);
            if (!report.ok()) return Fail("fsck", report.status());
            if (*as_json) {
              JsonWriter json;
              json.BeginObject();
              json.Key("objects_checked").Uint(report->objects_checked);
              json.Key("problems").BeginArray();
              for (const auto& p : report->problems) json.String(p);
              json.EndArray();
              json.EndObject();
              Print(json.str() + "\n");
            } else {
              for (const auto& p : report->problems) Print(p + "\n");
            }
            return report->problems.empty() ? kExitOk : kExitFailure;
          }};
}

}  // namespace vrepo::cli
