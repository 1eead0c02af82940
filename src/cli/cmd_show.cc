// vrepo show [REV] [--json]
#include "cli.h"

namespace vrepo::cli {

Command RegisterShow(CLI::App& app, Globals& g) {
  struct Opts {
    std::string rev = "HEAD";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "show",
      "Show a commit and the files it changed\n"
      "Prints the commit header of REV (HEAD by default) as git log does, then one line per "
      "file added (A), deleted (D) or modified (M) relative to its first parent, with sizes. "
      "Opens the repository read-only.");
  sub->add_option("REV", o->rev, "Commit to show");
  sub->add_flag("--json", o->json, "One JSON object: the commit and its changed files");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("show", repo.status());
            History& history = (*repo)->history();
            auto id = history.ResolveCommit(o->rev);
            if (!id.ok()) return Fail("show", id.status());
            auto commit = history.GetCommit(*id);
            if (!commit.ok()) return Fail("show", commit.status());
            std::vector<FileEntry> before;
            if (!commit->parents.empty()) {
              auto files = history.ReadTree(commit->parents[0]);
              if (!files.ok()) return Fail("show", files.status());
              before = std::move(*files);
            }
            auto after = history.ReadTree(*id);
            if (!after.ok()) return Fail("show", after.status());
            std::vector<DiffEntry> changes = DiffFiles(before, *after);
            if (o->json) {
              JsonWriter json;
              json.BeginObject();
              json.Key("commit");
              WriteCommitJson(json, *commit);
              json.Key("changes");
              WriteDiffJson(json, changes);
              json.EndObject();
              Print(json.str() + "\n");
              return kExitOk;
            }
            Print(FormatCommitHeader(*commit));
            if (!changes.empty()) Print("\n");
            for (const auto& e : changes) Print(FormatDiffLine(e));
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
