// vrepo checkout REV [--force] | vrepo checkout REV -- PATH...
#include <cstdio>

#include "cli.h"

namespace vrepo::cli {

Command RegisterCheckout(CLI::App& app, Globals& g) {
  struct Opts {
    std::string rev;
    std::vector<std::string> paths;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "checkout",
      "Check out a commit or branch into the working tree\n"
      "Makes the working tree and the staging index equal to REV. A branch name attaches HEAD "
      "to that branch; any other revision (id, tag, REV~N) detaches HEAD at it, as git does. "
      "Refuses, naming a path, when uncommitted changes or untracked files would be "
      "overwritten, unless --force. With PATHs (after --), writes only the files under them "
      "as REV has them, into the working tree and the staging index, and moves nothing else "
      "(as 'vrepo restore --source REV PATH...'); in a lazy clone this fetches just those.");
  sub->add_option("REV", o->rev, "Branch or revision")->required();
  sub->add_option("PATH", o->paths, "Files or folders to take from REV (after --)");
  sub->add_flag("-f,--force", o->force, "Discard uncommitted changes");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("checkout", repo.status());
            if (!o->paths.empty()) {
              auto rel = RepoPaths(**repo, g, o->paths);
              if (!rel.ok()) return Fail("checkout", rel.status());
              Status st = Restore(**repo, *rel, o->rev, CliReporter());
              return st.ok() ? kExitOk : Fail("checkout", st);
            }
            CheckoutOptions options;
            options.reporter = CliReporter();
            options.force = o->force;
            Status st = Checkout(**repo, o->rev, options, /*attach_branch=*/true);
            if (!st.ok()) return Fail("checkout", st);
            History& history = (*repo)->history();
            auto branch = history.CurrentBranch();
            if (branch.ok() && *branch && **branch == o->rev) {
              std::fprintf(stderr, "Switched to branch '%s'\n", o->rev.c_str());
              return kExitOk;
            }
            auto head = history.HeadCommit();
            if (head.ok() && *head) {
              auto commit = history.GetCommit(**head);
              std::string subject = commit.ok() ? Subject(commit->message) : "";
              std::fprintf(stderr, "HEAD is now at %s %s\n", ShortId(**head).c_str(),
                           subject.c_str());
            }
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
