// vrepo push [REMOTE] [BRANCH... | --all] [--runs] [--tags] [--force] [--jobs N] [--json]
#include <cstdio>

#include "remote_cli.h"

namespace vrepo::cli {

namespace {

// git's hints after a refused push, one kind of refusal each: a branch the remote's working
// tree has checked out, or a remote that moved on.
void PrintRejectionHints(const SyncReport& report, const std::string& remote_name) {
  bool checked_out = false, moved_on = false;
  for (const RefResult& r : report.refs) {
    checked_out |= r.outcome == RefOutcome::kCheckedOut;
    moved_on |= r.outcome == RefOutcome::kRejected && r.name.starts_with("refs/heads/");
  }
  if (checked_out) {
    std::fputs(
        "hint: The remote has this branch checked out in its working tree, whose files a push "
        "must not change.\n"
        "hint: Push to a bare repository instead ('vrepo init --bare DIR'), or switch the "
        "remote's working tree to another branch, then push again.\n",
        stderr);
  }
  if (moved_on) {
    std::fprintf(stderr,
                 "hint: Updates were rejected because the remote contains work that you do not "
                 "have locally.\n"
                 "hint: Fetch it first ('vrepo fetch'), merge it ('vrepo merge %s/BRANCH'), then "
                 "push again.\n",
                 remote_name.empty() ? "REMOTE" : remote_name.c_str());
  }
}

}  // namespace

Command RegisterPush(CLI::App& app, Globals& g) {
  struct Opts {
    std::string remote;
    PushOptions push;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "push",
      "Send branches (and their files) to a remote\n"
      "Sends the current branch, the named BRANCHes, or --all of them to REMOTE (origin by "
      "default), with only the commits and files the remote lacks. A branch the remote moved "
      "meanwhile is rejected (exit 1): fetch, merge, and push again, or --force. With --runs "
      "the training runs (refs/runs/*) go too; with --tags the tags. A remote with a working "
      "tree refuses its checked-out branch: push to one made by 'vrepo init --bare'.");
  sub->add_option("REMOTE", o->remote, "Remote name, path or URL (default: origin)");
  sub->add_option("BRANCH", o->push.branches, "Branches to push (default: the current one)");
  sub->add_flag("--all", o->push.all, "Push every branch");
  sub->add_flag("--runs", o->push.runs, "Push training runs (refs/runs/*) besides the branches");
  sub->add_flag("--models", o->push.models, "Push base models (refs/models/*) too");
  sub->add_flag("--tags", o->push.tags, "Push tags besides the branches");
  sub->add_flag("-f,--force", o->push.force, "Allow updates that are not fast-forwards");
  sub->add_option("-j,--jobs", o->push.jobs, "Parallel streams (default 4)")
      ->check(CLI::Range(1, 64));
  sub->add_flag("--json", o->json, "Print the result as JSON on stdout");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("push", repo.status());
            auto remote = OpenRemote(**repo, o->remote);
            if (!remote.ok()) return Fail("push", remote.status());
            o->push.reporter = o->json ? nullptr : CliReporter();
            auto report = Push(**repo, *remote->transport, remote->name, o->push);
            if (!report.ok()) return Fail("push to " + remote->url, report.status());
            if (o->json) {
              PrintReportJson(remote->url, *report, remote->transport.get());
              return report->ok() ? kExitOk : kExitFailure;
            }
            bool all_current = true;
            for (const RefResult& r : report->refs)
              all_current &= r.outcome == RefOutcome::kUpToDate;
            if (all_current) {
              std::fputs("Everything up-to-date\n", stderr);
              return kExitOk;
            }
            std::fprintf(stderr, "To %s\n", remote->url.c_str());
            PrintRefLines(*report, /*push=*/true, remote->name);
            if (report->ok()) return kExitOk;
            std::fprintf(stderr, "error: failed to push some refs to '%s'\n", remote->url.c_str());
            PrintRejectionHints(*report, remote->name);
            return kExitFailure;
          }};
}

}  // namespace vrepo::cli
