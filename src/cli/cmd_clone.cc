// vrepo clone URL [DIR] [--branch B] [--jobs N] [--lazy [--lazy-threshold BYTES]] [--json]
#include <cstdio>

#include "remote_cli.h"

namespace vrepo::cli {

namespace {

// git's default folder name: the URL's last part, without a trailing ".vrepo".
std::string DefaultDir(std::string url) {
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  std::string name = url.substr(url.find_last_of('/') + 1);
  if (name.size() > 6 && name.compare(name.size() - 6, 6, ".vrepo") == 0) {
    name.resize(name.size() - 6);
  }
  return name;
}

}  // namespace

Command RegisterClone(CLI::App& app, Globals& g) {
  struct Opts {
    std::string url, dir;
    CloneOptions clone;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "clone",
      "Copy a repository, with its history, files and runs, into a new folder\n"
      "Creates DIR (by default the URL's last part), a repository whose remote 'origin' is "
      "URL, fetches every branch, tag and run, and checks out the remote's HEAD branch (or "
      "--branch B). HTTP remotes take a token from VREPO_TOKEN.");
  sub->add_option("URL", o->url, "Path or http(s) URL of the repository")->required();
  sub->add_option("DIR", o->dir, "Folder to create (must not exist, or be empty)");
  sub->add_option("-b,--branch", o->clone.branch, "Branch to check out");
  sub->add_option("-j,--jobs", o->clone.jobs, "Parallel streams (default 4)")
      ->check(CLI::Range(1, 64));
  CLI::Option* lazy = sub->add_flag(
      "--lazy", o->clone.lazy,
      "Fetch the history, label tables (*.csv, *.jsonl), .vrepoignore and small files "
      "now; images and other files are fetched from origin when a command reads them (see "
      "'vrepo fetch --contents')");
  sub->add_option("--lazy-threshold", o->clone.lazy_threshold,
                  "With --lazy, the largest file (bytes) other than an image fetched at once "
                  "(default 65536)")
      ->needs(lazy);
  sub->add_flag("--json", o->json, "Print the result as JSON on stdout");
  return {sub, [&g, o] {
            (void)g;
            std::string dir = o->dir.empty() ? DefaultDir(o->url) : o->dir;
            if (dir.empty() || dir == "." || dir == "..") {
              return FailWith("clone", "cannot name a folder after '" + o->url + "' [give DIR]",
                              kExitUsage);
            }
            o->clone.transport = TransportOptionsFor(RemoteConfig{});
            o->clone.reporter = o->json ? nullptr : CliReporter();
            if (!o->json) std::fprintf(stderr, "Cloning into '%s'...\n", dir.c_str());
            auto report = Clone(o->url, dir, o->clone);
            if (!report.ok()) return Fail("clone", report.status());
            if (o->json) PrintReportJson(o->url, *report);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
