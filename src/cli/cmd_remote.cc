// vrepo remote [list [-v] [--json]] | add NAME URL [--token T] | remove NAME
#include <cstdio>

#include "remote_cli.h"

namespace vrepo::cli {

namespace {
// git's exit codes for these two refusals.
constexpr int kExitRemoteExists = 3;
constexpr int kExitNoSuchRemote = 2;
}  // namespace

Command RegisterRemote(CLI::App& app, Globals& g) {
  struct Opts {
    std::string name, url, token;
    bool verbose = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "remote",
      "Manage the remotes this repository pushes to and fetches from\n"
      "A remote is a name for a URL: a path to another vrepo repository, or "
      "http(s)://HOST:PORT/NAME served by 'vrepo serve'. Remotes live in .vrepo/config. A "
      "token (--token, or VREPO_TOKEN at run time, which wins) is sent to HTTP remotes and "
      "never printed. With no subcommand, lists the remotes' names.");
  sub->require_subcommand(0, 1);
  CLI::App* add = sub->add_subcommand("add", "Add a remote NAME for URL");
  add->add_option("NAME", o->name, "Remote name")->required();
  add->add_option("URL", o->url, "Path or http(s) URL")->required();
  add->add_option("--token", o->token, "Bearer token for an HTTP remote (stored in .vrepo/config)");
  CLI::App* remove = sub->add_subcommand("remove", "Remove remote NAME and its tracking refs");
  remove->alias("rm");
  remove->add_option("NAME", o->name, "Remote name")->required();
  CLI::App* list = sub->add_subcommand("list", "List remotes");
  for (CLI::App* lister : {sub, list}) {
    lister->add_flag("-v,--verbose", o->verbose, "Show each remote's URL");
    lister->add_flag("--json", o->json, "As a JSON array: name, url, has_token");
  }
  return {sub, [&g, o, add, remove] {
            bool write = add->parsed() || remove->parsed();
            auto repo = OpenRepository(g, write);
            if (!repo.ok()) return Fail("remote", repo.status());
            if (add->parsed()) {
              Status st = AddRemote(**repo, {o->name, o->url, o->token, ""});
              if (!st.ok()) {
                bool exists = st.message().find("already exists") != std::string::npos;
                return FailWith("remote add", st.message(),
                                exists ? kExitRemoteExists : kExitFatal);
              }
              return kExitOk;
            }
            if (remove->parsed()) {
              Status st = RemoveRemote(**repo, o->name);
              if (!st.ok()) return FailWith("remote remove", st.message(), kExitNoSuchRemote);
              History& history = (*repo)->history();
              std::string prefix = "refs/remotes/" + o->name + "/";
              auto refs = history.RefsWithPrefix(prefix);
              if (refs.ok()) {
                for (const RefInfo& r : *refs) {
                  Status del = history.UpdateRef(prefix + r.name, "", r.target, "remote remove");
                  if (!del.ok()) return Fail("remote remove", del);
                }
              }
              return kExitOk;
            }
            auto remotes = ListRemotes(**repo);
            if (!remotes.ok()) return Fail("remote", remotes.status());
            if (o->json) {
              JsonWriter json;
              json.BeginArray();
              for (const RemoteConfig& r : *remotes) {
                json.BeginObject();
                json.Key("name").String(r.name);
                json.Key("url").String(r.url);
                json.Key("has_token").Bool(!r.token.empty());
                json.EndObject();
              }
              json.EndArray();
              Print(json.str() + "\n");
              return kExitOk;
            }
            for (const RemoteConfig& r : *remotes) {
              if (o->verbose) {
                Print(r.name + "\t" + r.url + " (fetch)\n" + r.name + "\t" + r.url + " (push)\n");
              } else {
                Print(r.name + "\n");
              }
            }
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
