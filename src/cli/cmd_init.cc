// vrepo init [--bare] [DIR]
#include "cli.h"
#include "vrepo/util/file.h"

namespace vrepo::cli {

Command RegisterInit(CLI::App& app, Globals& g) {
  struct Opts {
    std::string dir;
    bool bare = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "init",
      "Create an empty vrepo repository\n"
      "Creates a .vrepo folder in DIR (the current folder by default, created when missing): "
      "an object store for file contents, a bare git repository for history and a staging "
      "index. The current branch is 'main'. With --bare, DIR has no working tree: a server's "
      "repository that anyone may push any branch to, and fetch and clone from; commands "
      "that need a working tree (status, add, commit, switch...) refuse to run there.");
  sub->add_option("DIR", o->dir, "Folder to create the repository in");
  sub->add_flag("--bare", o->bare, "Create a repository without a working tree, to push to");
  return {sub, [&g, o] {
            std::string root = o->dir.empty()     ? g.cwd
                               : o->dir[0] == '/' ? o->dir
                                                  : JoinPath(g.cwd, o->dir);
            Status st = MakeDirs(root);
            if (!st.ok()) return Fail("init", st);
            auto repo = Repository::Init(root, o->bare);
            if (!repo.ok()) return Fail("init", repo.status());
            Print(std::string("Initialized empty ") + (o->bare ? "bare " : "") +
                  "vrepo repository in " + (*repo)->vrepo_dir() + "/\n");
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
