// vrepo pull [REMOTE] [--runs] [--jobs N] [--json]
#include <cstdio>

#include "remote_cli.h"
#include "vrepo/remote/tracking.h"

namespace vrepo::cli {

namespace {

const char* OutcomeName(PullOutcome outcome) {
  switch (outcome) {
    case PullOutcome::kUpToDate:
      return "up to date";
    case PullOutcome::kFastForwarded:
      return "fast-forwarded";
    case PullOutcome::kDetachedHead:
      return "detached HEAD";
    case PullOutcome::kNoRemoteBranch:
      return "no remote branch";
    case PullOutcome::kDiverged:
      return "diverged";
  }
  return "";
}

void WriteOptionalString(JsonWriter& json, const char* key, const std::optional<std::string>& v) {
  json.Key(key);
  if (v) {
    json.String(*v);
  } else {
    json.Null();
  }
}

// The fetch's fields (WriteReportFields), then what happened to the branch: its name, its
// upstream, the outcome as "status", and its commit before ("old_commit") and after.
void PrintPullJson(const std::string& url, const PullResult& p) {
  JsonWriter json;
  json.BeginObject();
  WriteReportFields(json, url, p.fetch);
  bool detached = p.outcome == PullOutcome::kDetachedHead;
  WriteOptionalString(json, "branch", detached ? std::nullopt : std::optional(p.branch));
  WriteOptionalString(json, "upstream", detached ? std::nullopt : std::optional(p.upstream));
  json.Key("status").String(OutcomeName(p.outcome));
  WriteOptionalString(json, "old_commit", p.old_head);
  bool moved = p.outcome == PullOutcome::kFastForwarded;
  WriteOptionalString(json, "commit", moved ? std::optional(p.new_head) : p.old_head);
  json.EndObject();
  Print(json.str() + "\n");
}

int PrintPull(const PullResult& p) {
  switch (p.outcome) {
    case PullOutcome::kDetachedHead:
      return FailWith("pull", "HEAD is detached [switch to a branch first]", kExitFailure);
    case PullOutcome::kNoRemoteBranch:
      // upstream is REMOTE/BRANCH, and remote names hold no '/'.
      return FailWith(
          "pull", "the remote has no branch '" + p.upstream.substr(p.upstream.find('/') + 1) + "'",
          kExitFailure);
    case PullOutcome::kDiverged:
      return FailWith("pull",
                      "'" + p.branch + "' and '" + p.upstream +
                          "' have diverged; nothing was changed [run 'vrepo merge " + p.upstream +
                          "', then commit]",
                      kExitFailure);
    case PullOutcome::kFastForwarded:
      Print("Updating " + (p.old_head ? ShortId(*p.old_head) : std::string("(none)")) + ".." +
            ShortId(p.new_head) + "\nFast-forward\n");
      return kExitOk;
    default:
      Print("Already up to date.\n");
      return kExitOk;
  }
}

}  // namespace

Command RegisterPull(CLI::App& app, Globals& g) {
  struct Opts {
    std::string remote;
    FetchOptions fetch;
    bool json = false;
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
  sub->add_flag("--models", o->fetch.models, "Fetch base models (refs/models/*) too");
  sub->add_option("-j,--jobs", o->fetch.jobs, "Parallel streams (default 4)")
      ->check(CLI::Range(1, 64));
  sub->add_flag("--json", o->json,
                "Print the result as JSON on stdout: the fetch's refs (name, old, new, status) "
                "and counts, then the branch, its upstream, status and old_commit and commit");
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
            o->fetch.reporter = o->json ? nullptr : CliReporter();
            CheckoutOptions checkout;
            checkout.reporter = o->fetch.reporter;
            // What arrived is shown before the branch moves, so also when the move is refused.
            bool fetched = false;
            auto show_fetched = [&](const SyncReport& report) {
              fetched = true;
              bool changed = false;
              for (const RefResult& r : report.refs) changed |= r.outcome != RefOutcome::kUpToDate;
              if (!changed || o->json) return;
              std::fprintf(stderr, "From %s\n", remote->url.c_str());
              PrintRefLines(report, /*push=*/false, remote->name);
            };
            auto pulled =
                Pull(**repo, *remote->transport, remote->name, o->fetch, checkout, show_fetched);
            // A failure after the fetch is the fast-forward's, not the remote's.
            if (!pulled.ok()) {
              return Fail(fetched ? "pull" : "pull from " + remote->url, pulled.status());
            }
            if (!o->json) return PrintPull(*pulled);
            PrintPullJson(remote->url, *pulled);
            bool ok = pulled->outcome == PullOutcome::kUpToDate ||
                      pulled->outcome == PullOutcome::kFastForwarded;
            return ok ? kExitOk : kExitFailure;
          }};
}

}  // namespace vrepo::cli
