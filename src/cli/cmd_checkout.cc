// vrepo checkout REV [--force]
#include <cstdio>

#include "cli.h"

namespace vrepo::cli {

Command RegisterCheckout(CLI::App& app, Globals& g) {
  struct Opts {
    std::string rev;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "checkout",
      "Check out a commit or branch into the working tree\n"
      "Makes the working tree and the staging index equal to REV. A branch name attaches HEAD "
      "to that branch; any other revision (id, tag, REV~N) detaches HEAD at it, as git does. "
      "Refuses, naming a path, when uncommitted changes or untracked files would be "
      "overwritten, unless --force.");
  sub->add_option("REV", o->rev, "Branch or revision")->required();
  sub->add_flag("-f,--force", o->force, "Discard uncommitted changes");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("checkout", repo.status());
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
