// vrepo init [DIR]
#include "cli.h"
#include "vrepo/util/file.h"

namespace vrepo::cli {

Command RegisterInit(CLI::App& app, Globals& g) {
  auto dir = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "init",
      "Create an empty vrepo repository\n"
      "Creates a .vrepo folder in DIR (the current folder by default, created when missing): "
      "an object store for file contents, a bare git repository for history and a staging "
      "index. The current branch is 'main'.");
  sub->add_option("DIR", *dir, "Folder to create the repository in");
  return {
      sub, [&g, dir] {
        std::string root = dir->empty() ? g.cwd : (*dir)[0] == '/' ? *dir : JoinPath(g.cwd, *dir);
        Status st = MakeDirs(root);
        if (!st.ok()) return Fail("init", st);
        auto repo = Repository::Init(root);
        if (!repo.ok()) return Fail("init", repo.status());
        Print("Initialized empty vrepo repository in " + (*repo)->vrepo_dir() + "/\n");
        return kExitOk;
      }};
}

}  // namespace vrepo::cli
