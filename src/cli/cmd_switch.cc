// vrepo switch [-c] BRANCH [START] [--force]
#include <cstdio>

#include "cli.h"
#include "vrepo/remote/tracking.h"

namespace vrepo::cli {

Command RegisterSwitch(CLI::App& app, Globals& g) {
  struct Opts {
    std::string branch;
    std::string start;
    bool create = false;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "switch",
      "Switch to a branch\n"
      "Makes the working tree and the staging index equal to BRANCH's commit and points HEAD "
      "at BRANCH. With -c, BRANCH is first created at START (HEAD by default). A BRANCH that "
      "does not exist but that one remote has (origin/BRANCH, after a clone or fetch) is "
      "created there. A branch made from a remote-tracking branch tracks it, so 'vrepo pull' "
      "brings its updates. Refuses when uncommitted changes would be lost, unless --force.");
  sub->add_option("BRANCH", o->branch, "Branch to switch to")->required();
  sub->add_option("START", o->start, "With -c: where the new branch starts (default: HEAD)");
  sub->add_flag("-c,--create", o->create, "Create BRANCH (at START, or HEAD) first");
  sub->add_flag("-f,--force,--discard-changes", o->force, "Discard uncommitted changes");
  return {sub, [&g, o] {
            if (!o->start.empty() && !o->create) {
              return FailWith("switch", "a start point needs -c [vrepo switch -c BRANCH START]",
                              kExitUsage);
            }
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("switch", repo.status());
            CheckoutOptions options;
            options.reporter = CliReporter();
            options.force = o->force;
            auto result = SwitchBranch(**repo, o->branch, o->create, o->start, options);
            if (!result.ok()) return Fail("switch", result.status());
            if (result->tracking) {
              Print("branch '" + o->branch + "' set up to track '" +
                    result->tracking->TrackingName() + "'.\n");
            }
            std::fprintf(stderr, "Switched to %sbranch '%s'\n", result->created ? "a new " : "",
                         o->branch.c_str());
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
