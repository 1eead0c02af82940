// vrepo add PATH...
#include "cli.h"

namespace vrepo::cli {

Command RegisterAdd(CLI::App& app, Globals& g) {
  auto paths = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand(
      "add",
      "Stage file contents for the next commit\n"
      "Stores the contents of every file under each PATH (folders recursively, skipping what "
      ".vrepoignore names) in the object store and records them in the staging index; tracked "
      "files under a PATH that no longer exist are staged as deleted. A progress bar is drawn "
      "on a terminal when it takes long.");
  sub->add_option("PATH", *paths, "Files or folders to stage")->required();
  return {sub, [&g, paths] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("add", repo.status());
            auto rel = RepoPaths(**repo, g, *paths);
            if (!rel.ok()) return Fail("add", rel.status());
            auto result = Add(**repo, *rel, AddOptions{.reporter = CliReporter()});
            if (!result.ok()) return Fail("add", result.status());
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
