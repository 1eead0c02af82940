// vrepo pull [REMOTE] [--runs] [--jobs N]
#include <cstdio>

#include "remote_cli.h"
#include "vrepo/remote/tracking.h"

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
      "Runs 'vrepo fetch REMOTE' (the branch's upstream remote, else origin), then moves the "
      "current branch and the working tree to its upstream (REMOTE/BRANCH, see 'vrepo "
      "switch') when that is a fast-forward, refusing (exit 1) to overwrite uncommitted "
      "changes. When the two have diverged it changes nothing and says to run 'vrepo merge "
      "REMOTE/BRANCH'.");
  sub->add_option("REMOTE", o->remote, "Remote name (default: the upstream's, else origin)");
  sub->add_flag("--runs", o->fetch.runs, "Fetch training runs (refs/runs/*) too");
  sub->add_option("-j,--jobs", o->fetch.jobs, "Parallel streams (default 4)")
      ->check(CLI::Range(1, 64));
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("pull", repo.status());
            auto name = o->remote.empty() ? DefaultRemote(**repo) : Result<std::string>(o->remote);
            if (!name.ok()) return Fail("pull", name.status());
            auto remote = OpenRemote(**repo, *name);
            if (!remote.ok()) return Fail("pull", remote.status());
            if (remote->name.empty()) {
              return FailWith("pull", "pull needs a configured remote [see 'vrepo remote add']",
                              kExitUsage);
            }
            o->fetch.reporter = CliReporter();
            CheckoutOptions checkout;
            checkout.reporter = CliReporter();
            // What arrived is shown before the branch moves, so also when the move is refused.
            bool fetched = false;
            auto show_fetched = [&](const SyncReport& report) {
              fetched = true;
              bool changed = false;
              for (const RefResult& r : report.refs) changed |= r.outcome != RefOutcome::kUpToDate;
              if (!changed) return;
              std::fprintf(stderr, "From %s\n", remote->url.c_str());
              PrintRefLines(report, /*push=*/false, remote->name);
            };
            auto pulled =
                Pull(**repo, *remote->transport, remote->name, o->fetch, checkout, show_fetched);
            // A failure after the fetch is the fast-forward's, not the remote's.
            if (!pulled.ok()) {
              return Fail(fetched ? "pull" : "pull from " + remote->url, pulled.status());
            }
            const PullResult& p = *pulled;
            if (p.outcome == PullOutcome::kDetachedHead) {
              return FailWith("pull", "HEAD is detached [switch to a branch first]", kExitFailure);
            }
            switch (p.outcome) {
              case PullOutcome::kNoRemoteBranch:
                // upstream is REMOTE/BRANCH, and remote names hold no '/'.
                return FailWith("pull",
                                "the remote has no branch '" +
                                    p.upstream.substr(p.upstream.find('/') + 1) + "'",
                                kExitFailure);
              case PullOutcome::kDiverged:
                return FailWith("pull",
                                "'" + p.branch + "' and '" + p.upstream +
                                    "' have diverged; nothing was changed [run 'vrepo merge " +
                                    p.upstream + "', then commit]",
                                kExitFailure);
              case PullOutcome::kFastForwarded:
                Print("Updating " + (p.old_head ? ShortId(*p.old_head) : std::string("(none)")) +
                      ".." + ShortId(p.new_head) + "\nFast-forward\n");
                return kExitOk;
              default:
                Print("Already up to date.\n");
                return kExitOk;
            }
          }};
}

}  // namespace vrepo::cli
