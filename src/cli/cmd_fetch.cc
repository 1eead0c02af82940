// vrepo fetch [REMOTE] [--runs] [--jobs N] [--json]
#include <cstdio>

#include "remote_cli.h"

namespace vrepo::cli {

Command RegisterFetch(CLI::App& app, Globals& g) {
  struct Opts {
    std::string remote;
    FetchOptions fetch;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "fetch",
      "Receive branches, tags and their files from a remote\n"
      "Brings the commits and files of REMOTE (origin by default) that this repository lacks, "
      "moves the remote-tracking branches REMOTE/BRANCH (see 'vrepo merge origin/main') and "
      "adds new tags. With --runs, training runs (refs/runs/*) come too. The working tree is "
      "not touched; 'vrepo pull' also fast-forwards the current branch.");
  sub->add_option("REMOTE", o->remote, "Remote name, path or URL (default: origin)");
  sub->add_flag("--runs", o->fetch.runs, "Fetch training runs (refs/runs/*) too");
  sub->add_flag("--models", o->fetch.models, "Fetch base models (refs/models/*) too");
  sub->add_option("-j,--jobs", o->fetch.jobs, "Parallel streams (default 4)")
      ->check(CLI::Range(1, 64));
  sub->add_flag("--json", o->json, "Print the result as JSON on stdout");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("fetch", repo.status());
            auto remote = OpenRemote(**repo, o->remote);
            if (!remote.ok()) return Fail("fetch", remote.status());
            if (remote->name.empty()) {
              return FailWith("fetch", "fetch needs a configured remote [see 'vrepo remote add']",
                              kExitUsage);
            }
            o->fetch.reporter = o->json ? nullptr : CliReporter();
            auto report = Fetch(**repo, *remote->transport, remote->name, o->fetch);
            if (!report.ok()) return Fail("fetch from " + remote->url, report.status());
            if (o->json) {
              PrintReportJson(remote->url, *report, remote->transport.get());
              return report->ok() ? kExitOk : kExitFailure;
            }
            bool changed = false;
            for (const RefResult& r : report->refs) changed |= r.outcome != RefOutcome::kUpToDate;
            if (changed) {
              std::fprintf(stderr, "From %s\n", remote->url.c_str());
              PrintRefLines(*report, /*push=*/false, remote->name);
            }
            return report->ok() ? kExitOk : kExitFailure;
          }};
}

}  // namespace vrepo::cli
