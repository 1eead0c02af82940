// vrepo diff [REV [REV]] [--stat] [--json] [--exit-code] [--labels TABLE] [-- PATH...]
#include "cli.h"

namespace vrepo::cli {

Command RegisterDiff(CLI::App& app, Globals& g) {
  struct Opts {
    std::vector<std::string> revs;
    bool stat = false;
    bool json = false;
    bool exit_code = false;
    std::string labels;
    TableOptions columns;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "diff",
      "Show changed files between the index, the working tree and commits\n"
      "With no REV: the staging index vs the working tree; with one: REV vs the working tree; "
      "with two: the first REV vs the second. Each changed file is one line: A (added), "
      "D (deleted) or M (modified), the path, and its size before and after. After '--', "
      "only the files under the PATHs (files or folders) are compared. Opens the "
      "repository read-only.");
  sub->add_option("REV", o->revs, "Zero, one or two revisions")->expected(0, 2);
  auto* stat = sub->add_flag("--stat", o->stat, "Per-file size changes and a total line");
  sub->add_flag("--json", o->json, "A JSON array of changed files")->excludes(stat);
  sub->add_flag("--exit-code", o->exit_code, "Exit 1 when there are differences");
  sub->add_option("--labels", o->labels,
                  "Compare samples of this label table instead of files, between the same "
                  "sides as without it: added, removed, relabeled, image changed. In a "
                  "folder table an image moved to another class folder is relabeled.")
      ->type_name("TABLE");
  AddColumnOptions(sub, &o->columns);
  return {sub,
          [&g, o] {
            if (!o->labels.empty()) {
              return RunDatasetDiff(g, o->revs, o->labels, o->columns, o->json, o->exit_code);
            }
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("diff", repo.status());
            auto paths = RepoPaths(**repo, g, g.paths);
            if (!paths.ok()) return Fail("diff", paths.status());
            auto changes = Diff(**repo, o->revs, *paths);
            if (!changes.ok()) return Fail("diff", changes.status());
            if (o->json) {
              JsonWriter json;
              WriteDiffJson(json, *changes);
              Print(json.str() + "\n");
            } else if (o->stat) {
              Print(FormatDiffStat(*changes));
            } else {
              for (const auto& e : *changes) Print(FormatDiffLine(e));
            }
            return o->exit_code && !changes->empty() ? kExitFailure : kExitOk;
          },
          /*takes_paths=*/true};
}

}  // namespace vrepo::cli
