// vrepo gc [--json]
#include "cli.h"

namespace vrepo::cli {

Command RegisterGc(CLI::App& app, Globals& g) {
  auto json_out = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand(
      "gc",
      "Drop objects no commit needs\n"
      "Rewrites the pack files keeping only the objects that some ref (branch, tag, run, HEAD) "
      "or the staging index reaches, then deletes the old packs. Prints how many objects were "
      "removed and how many pack bytes were reclaimed from how many old packs (bytes left by "
      "an interrupted write count too, though they held no object). Safe to interrupt at any "
      "point.");
  sub->add_flag("--json", *json_out,
                "One JSON object: objects (removed), bytes (reclaimed), packs (rewritten), "
                "bytes_before, bytes_after");
  return {sub, [&g, json_out] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("gc", repo.status());
            auto result = Gc(**repo);
            if (!result.ok()) return Fail("gc", result.status());
            const uint64_t reclaimed = result->bytes_before > result->bytes_after
                                           ? result->bytes_before - result->bytes_after
                                           : 0;
            if (*json_out) {
              JsonWriter json;
              json.BeginObject();
              json.Key("objects").Uint(result->objects_dropped);
              json.Key("bytes").Uint(reclaimed);
              json.Key("packs").Uint(result->packs_removed);
              json.Key("bytes_before").Uint(result->bytes_before);
              json.Key("bytes_after").Uint(result->bytes_after);
              json.EndObject();
              Print(json.str() + "\n");
              return kExitOk;
            }
            Print("removed " + Counted(result->objects_dropped, "object") + ", reclaimed " +
                  HumanBytes(static_cast<double>(reclaimed)) + " (" +
                  Counted(result->packs_removed, "pack") + " rewritten)\n");
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
