// vrepo restore [--staged] [--worktree] [-s REV] PATH...
#include "cli.h"

namespace vrepo::cli {

Command RegisterRestore(CLI::App& app, Globals& g) {
  struct Opts {
    std::vector<std::string> paths;
    std::string source;
    bool staged = false;
    bool worktree = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "restore",
      "Restore working tree files, or unstage them\n"
      "Overwrites the files under each PATH with their staged contents, discarding changes "
      "not staged. With --source REV, takes them from that commit instead and stages them "
      "too. With --staged, puts the staged entries back as HEAD (or REV) has them, removing "
      "those it lacks, and keeps the working tree's edits: the undo of 'vrepo add'. "
      "--staged --worktree does both.");
  sub->add_option("PATH", o->paths, "Files or folders to restore")->required();
  sub->add_option("-s,--source", o->source, "Revision to restore from")->type_name("REV");
  sub->add_flag("-S,--staged", o->staged, "Restore the staging index (unstage), not the files");
  sub->add_flag("-W,--worktree", o->worktree,
                "Restore the working tree (the default; with --staged, both)");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("restore", repo.status());
            auto rel = RepoPaths(**repo, g, o->paths);
            if (!rel.ok()) return Fail("restore", rel.status());
            std::optional<std::string> source;
            if (!o->source.empty()) source = o->source;
            Status st;
            if (o->staged && !o->worktree) {
              st = Unstage(**repo, *rel, source);
            } else {
              // Both: the files and their entries from the source, which is HEAD by default.
              if (o->staged && !source) source = "HEAD";
              st = Restore(**repo, *rel, source, CliReporter());
            }
            if (!st.ok()) return Fail("restore", st);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
