// vrepo gc
#include "cli.h"

namespace vrepo::cli {

Command RegisterGc(CLI::App& app, Globals& g) {
  CLI::App* sub = app.add_subcommand(
      "gc",
      "Drop objects no commit needs\n"
      "Rewrites the pack files keeping only the objects that some ref (branch, tag, run, HEAD) "
      "or the staging index reaches, then deletes the old packs. Prints how many objects were "
      "dropped and the pack bytes before and after. Safe to interrupt at any point.");
  return {sub, [&g] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("gc", repo.status());
            auto result = Gc(**repo);
            if (!result.ok()) return Fail("gc", result.status());
            Print("dropped " + std::to_string(result->objects_dropped) + " objects, packs " +
                  std::to_string(result->bytes_before) + " -> " +
                  std::to_string(result->bytes_after) + " bytes\n");
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
