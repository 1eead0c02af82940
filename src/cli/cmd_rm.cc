// vrepo rm [--cached] [-f] PATH...
#include "cli.h"

namespace vrepo::cli {

Command RegisterRm(CLI::App& app, Globals& g) {
  struct Opts {
    std::vector<std::string> paths;
    bool cached = false;
    bool force = false;
    bool recursive = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "rm",
      "Remove files from the working tree and the staging index\n"
      "Stages the removal of every tracked file under each PATH and deletes it from the working "
      "tree. With --cached the files stay on disk and only leave the index. Files whose changes "
      "are not committed are kept unless --force is given.");
  sub->add_option("PATH", o->paths, "Files or folders to remove")->required();
  sub->add_flag("--cached", o->cached, "Only unstage; keep the files in the working tree");
  sub->add_flag("-f,--force", o->force, "Remove even files with uncommitted changes");
  sub->add_flag("-r", o->recursive,
                "Accepted for git compatibility: folders are always removed recursively");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("rm", repo.status());
            auto rel = RepoPaths(**repo, g, o->paths);
            if (!rel.ok()) return Fail("rm", rel.status());
            Status st = Remove(**repo, *rel, o->cached, o->force);
            if (!st.ok()) return Fail("rm", st);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
