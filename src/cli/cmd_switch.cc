// vrepo switch [-c] BRANCH [--force]
#include <cstdio>

#include "cli.h"

namespace vrepo::cli {

Command RegisterSwitch(CLI::App& app, Globals& g) {
  struct Opts {
    std::string branch;
    bool create = false;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "switch",
      "Switch to a branch\n"
      "Makes the working tree and the staging index equal to BRANCH's commit and points HEAD "
      "at BRANCH. With -c, BRANCH is first created at HEAD. Refuses when uncommitted changes "
      "would be lost, unless --force.");
  sub->add_option("BRANCH", o->branch, "Branch to switch to")->required();
  sub->add_flag("-c,--create", o->create, "Create BRANCH at HEAD first");
  sub->add_flag("-f,--force,--discard-changes", o->force, "Discard uncommitted changes");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("switch", repo.status());
            CheckoutOptions options;
            options.reporter = CliReporter();
            options.force = o->force;
            Status st = Switch(**repo, o->branch, o->create, options);
            if (!st.ok()) return Fail("switch", st);
            std::fprintf(stderr, "Switched to %sbranch '%s'\n", o->create ? "a new " : "",
                         o->branch.c_str());
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
