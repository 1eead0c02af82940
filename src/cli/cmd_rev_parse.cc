// vrepo rev-parse REV...
#include "cli.h"

namespace vrepo::cli {

Command RegisterRevParse(CLI::App& app, Globals& g) {
  struct Opts {
    std::vector<std::string> revs;
    bool short_id = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "rev-parse",
      "Print the commit id a revision names\n"
      "Resolves each REV (HEAD, a branch, a tag, a full or abbreviated id, REV~N, REV^) and "
      "prints the full 40-digit commit id, one per line. Opens the repository read-only.");
  sub->add_option("REV", o->revs, "Revisions to resolve")->required();
  sub->add_flag("--short", o->short_id, "Print the abbreviated id (7 digits)");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("rev-parse", repo.status());
            for (const auto& rev : o->revs) {
              auto id = (*repo)->history().ResolveCommit(rev);
              if (!id.ok()) return Fail("rev-parse", id.status());
              Print((o->short_id ? ShortId(*id) : *id) + "\n");
            }
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
