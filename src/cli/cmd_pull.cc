// vrepo pull [REMOTE] [--runs] [--jobs N]
#include <cstdio>

#include "remote_cli.h"

namespace vrepo::cli {

Command RegisterPull(CLI::App& app, Globals& g) {
  struct Opts {
    std::string remote;
    FetchOptions fetch;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "pull",
      "Fetch from a remote, then fast-forward the current branch\n"
      "Runs 'vrepo fetch REMOTE' (origin by default), then moves the current branch and the "
      "working tree to REMOTE/BRANCH when that is a fast-forward, refusing (exit 1) to "
      "overwrite uncommitted changes. When the two have diverged it changes nothing and says "
      "to run 'vrepo merge REMOTE/BRANCH'.");
  sub->add_option("REMOTE", o->remote, "Remote name (default: origin)");
  sub->add_flag("--runs", o->fetch.runs, "Fetch training runs (refs/runs/*) too");
  sub->add_option("-j,--jobs", o->fetch.jobs, "Parallel streams (default 4)")
      ->check(CLI::Range(1, 64));
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("pull", repo.status());
            auto remote = OpenRemote(**repo, o->remote);
            if (!remote.ok()) return Fail("pull", remote.status());
            if (remote->name.empty()) {
              return FailWith("pull", "pull needs a configured remote [see 'vrepo remote add']",
                              kExitUsage);
            }
            History& history = (*repo)->history();
            auto branch = history.CurrentBranch();
            if (!branch.ok()) return Fail("pull", branch.status());
            if (!*branch) {
              return FailWith("pull", "HEAD is detached [switch to a branch first]",
                              kExitFailure);
            }
            o->fetch.show_progress = true;
            auto report = Fetch(**repo, *remote->transport, remote->name, o->fetch);
            if (!report.ok()) return Fail("pull from " + remote->url, report.status());
            bool changed = false;
            for (const RefResult& r : report->refs) changed |= r.status != "up to date";
            if (changed) {
              std::fprintf(stderr, "From %s\n", remote->url.c_str());
              PrintRefLines(*report, /*push=*/false, remote->name);
            }
            std::string upstream = remote->name + "/" + **branch;
            auto theirs = history.ReadRef("refs/remotes/" + upstream);
            if (!theirs.ok()) return Fail("pull", theirs.status());
            if (!*theirs) {
              return FailWith("pull", "the remote has no branch '" + **branch + "'",
                              kExitFailure);
            }
            auto head = history.HeadCommit();
            if (!head.ok()) return Fail("pull", head.status());
            if (*head) {
              if (**head == **theirs) {
                Print("Already up to date.\n");
                return kExitOk;
              }
              auto base = history.MergeBase(**head, **theirs);
              if (!base.ok()) return Fail("pull", base.status());
              if (*base && **base == **theirs) {
                Print("Already up to date.\n");
                return kExitOk;
              }
              if (!*base || **base != **head) {
                return FailWith("pull",
                                "'" + **branch + "' and '" + upstream +
                                    "' have diverged; nothing was changed [run 'vrepo merge " +
                                    upstream + "', then commit]",
                                kExitFailure);
              }
            }
            auto files = history.ReadTree(**theirs);
            if (!files.ok()) return Fail("pull", files.status());
            auto info = history.GetCommit(**theirs);
            if (!info.ok()) return Fail("pull", info.status());
            CheckoutOptions checkout;
            Status st = CheckoutFiles(**repo, *files, info->tree, checkout);
            if (!st.ok()) return Fail("pull", st);
            st = history.AdvanceHead(**theirs, *head, "vrepo: pull (fast-forward)");
            if (!st.ok()) return Fail("pull", st);
            Print("Updating " + (*head ? ShortId(**head) : std::string("(none)")) + ".." +
                  ShortId(**theirs) + "\nFast-forward\n");
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
