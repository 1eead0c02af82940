// vrepo fetch [REMOTE] [--runs] [--jobs N] [--json] | vrepo fetch --contents [REV] [-- PATH...]
#include <cstdio>

#include "remote_cli.h"
#include "vrepo/remote/lazy.h"

namespace vrepo::cli {

namespace {

// fetch --contents [REV] [-- PATH...]: prefetches a lazy clone's absent contents.
template <class Opts>
int FetchContents(const Globals& g, const Opts& o) {
  auto repo = OpenRepository(g, /*write=*/true);
  if (!repo.ok()) return Fail("fetch", repo.status());
  auto lazy = LazyRemote(**repo);
  if (!lazy.ok()) return Fail("fetch", lazy.status());
  const std::string rev = o.remote.empty() ? "HEAD" : o.remote;
  History& history = (*repo)->history();
  auto commit = history.ResolveCommit(rev);
  if (!commit.ok()) return Fail("fetch", commit.status());
  auto files = history.ReadTree(*commit);
  if (!files.ok()) return Fail("fetch", files.status());
  auto rel = RepoPaths(**repo, g, o.paths);
  if (!rel.ok()) return Fail("fetch", rel.status());
  std::vector<ContentId> ids;
  for (const FileEntry& f : *files) {
    bool named = rel->empty();
    for (const std::string& p : *rel)
      named |= p.empty() || f.path == p || f.path.rfind(p + "/", 0) == 0;
    if (named) ids.push_back(f.id);
  }
  if (ids.empty()) {
    return FailWith("fetch", "no file of " + rev + " is under the paths given", kExitFatal);
  }
  auto fetched = (*repo)->store().Prefetch(ids);
  if (!fetched.ok()) return Fail("fetch", fetched.status());
  if (!*lazy && !o.json) std::fprintf(stderr, "not a lazy clone: every file is here\n");
  if (o.json) {
    JsonWriter json;
    json.BeginObject();
    json.Key("objects").Uint(*fetched);
    json.EndObject();
    Print(json.str() + "\n");
  } else if (*lazy) {
    std::fprintf(stderr, "fetched %llu objects from '%s'\n",
                 static_cast<unsigned long long>(*fetched), lazy->value().c_str());
  }
  return kExitOk;
}

}  // namespace

Command RegisterFetch(CLI::App& app, Globals& g) {
  struct Opts {
    std::string remote;
    std::vector<std::string> paths;
    FetchOptions fetch;
    bool contents = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "fetch",
      "Receive branches, tags and their files from a remote\n"
      "Brings the commits and files of REMOTE (origin by default) that this repository lacks, "
      "moves the remote-tracking branches REMOTE/BRANCH (see 'vrepo merge origin/main') and "
      "adds new tags. With --runs, training runs (refs/runs/*) come too. The working tree is "
      "not touched; 'vrepo pull' also fast-forwards the current branch. In a lazy clone, "
      "--contents [REV] [-- PATH...] instead gets the absent contents of REV's files (HEAD's "
      "by default), or of those under PATHs, from the clone's remote.");
  sub->add_option("REMOTE", o->remote,
                  "Remote name, path or URL (default: origin); with --contents, REV");
  sub->add_option("PATH", o->paths, "With --contents: files or folders (after --)");
  sub->add_flag("--contents", o->contents,
                "Lazy clone: fetch the absent contents of REV's files (no refs move)");
  sub->add_flag("--runs", o->fetch.runs, "Fetch training runs (refs/runs/*) too");
  sub->add_flag("--models", o->fetch.models, "Fetch base models (refs/models/*) too");
  sub->add_option("-j,--jobs", o->fetch.jobs, "Parallel streams (default 4)")
      ->check(CLI::Range(1, 64));
  sub->add_flag("--json", o->json, "Print the result as JSON on stdout");
  return {sub, [&g, o] {
            if (o->contents) return FetchContents(g, *o);
            if (!o->paths.empty()) {
              return FailWith("fetch", "paths are for --contents", kExitUsage);
            }
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
