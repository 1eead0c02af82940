// vrepo mv SRC DST
#include "cli.h"

namespace vrepo::cli {

Command RegisterMv(CLI::App& app, Globals& g) {
  auto src = std::make_shared<std::string>();
  auto dst = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "mv",
      "Move or rename a tracked file or folder\n"
      "Renames SRC to DST in the working tree and in the staging index, so the next commit "
      "records the move without reading the contents again.");
  sub->add_option("SRC", *src, "Tracked file or folder")->required();
  sub->add_option("DST", *dst, "New path")->required();
  return {sub, [&g, src, dst] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("mv", repo.status());
            auto rel = RepoPaths(**repo, g, {*src, *dst});
            if (!rel.ok()) return Fail("mv", rel.status());
            Status st = Move(**repo, (*rel)[0], (*rel)[1]);
            if (!st.ok()) return Fail("mv", st);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
