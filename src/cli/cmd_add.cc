// vrepo add [--json] PATH...
#include "cli.h"
#include "terminal_reporter.h"

namespace vrepo::cli {

Command RegisterAdd(CLI::App& app, Globals& g) {
  struct Opts {
    std::vector<std::string> paths;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "add",
      "Stage file contents for the next commit\n"
      "Stores the contents of every file under each PATH (folders recursively, skipping what "
      ".vrepoignore names) in the object store and records them in the staging index; tracked "
      "files under a PATH that no longer exist are staged as deleted. A progress bar is drawn "
      "on a terminal when it takes long.");
  sub->add_option("PATH", o->paths, "Files or folders to stage")->required();
  sub->add_flag("--json", o->json,
                "One JSON object: files_staged (new or changed), files_removed (staged as "
                "deleted), bytes (read and stored)");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("add", repo.status());
            auto rel = RepoPaths(**repo, g, o->paths);
            if (!rel.ok()) return Fail("add", rel.status());
            TerminalReporter json_reporter(/*json_output=*/true);
            Reporter* reporter = o->json ? &json_reporter : CliReporter();
            auto result = Add(**repo, *rel, AddOptions{.reporter = reporter});
            if (!result.ok()) return Fail("add", result.status());
            if (o->json) {
              JsonWriter json;
              json.BeginObject();
              json.Key("files_staged").Uint(result->files_added);
              json.Key("files_removed").Uint(result->files_removed);
              json.Key("bytes").Uint(result->bytes_read);
              json.EndObject();
              Print(json.str() + "\n");
            }
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
