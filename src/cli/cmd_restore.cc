// vrepo restore PATH... [--source REV]
#include "cli.h"

namespace vrepo::cli {

Command RegisterRestore(CLI::App& app, Globals& g) {
  struct Opts {
    std::vector<std::string> paths;
    std::string source;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "restore",
      "Restore working tree files\n"
      "Overwrites the files under each PATH with their staged contents, discarding changes "
      "not staged. With --source REV, takes them from that commit instead and stages them "
      "too.");
  sub->add_option("PATH", o->paths, "Files or folders to restore")->required();
  sub->add_option("-s,--source", o->source, "Revision to restore from")->type_name("REV");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("restore", repo.status());
            auto rel = RepoPaths(**repo, g, o->paths);
            if (!rel.ok()) return Fail("restore", rel.status());
            std::optional<std::string> source;
            if (!o->source.empty()) source = o->source;
            Status st = Restore(**repo, *rel, source, CliReporter());
            if (!st.ok()) return Fail("restore", st);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
