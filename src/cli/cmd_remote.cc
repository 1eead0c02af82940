// vrepo remote [list [-v] [--json]] | add NAME URL [--token T] [S3 settings] | remove NAME
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
    std::string name, url, token, endpoint, region;
    std::optional<bool> path_style;
    bool single_writer = false;
    bool verbose = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "remote",
      "Manage the remotes this repository pushes to and fetches from\n"
      "A remote is a name for a URL: a path to another vrepo repository, or "
      "http(s)://HOST:PORT/NAME served by 'vrepo serve', or s3://BUCKET[/PREFIX] in an "
      "S3-compatible store (AWS, MinIO, Ceph; credentials and endpoint from the AWS variables "
      "and ~/.aws files). Remotes live in .vrepo/config. A token (--token, or VREPO_TOKEN at "
      "run time, which wins) is sent to HTTP remotes and never printed. With no subcommand, "
      "lists the remotes' names.");
  sub->require_subcommand(0, 1);
  CLI::App* add = sub->add_subcommand("add", "Add a remote NAME for URL");
  add->add_option("NAME", o->name, "Remote name")->required();
  add->add_option("URL", o->url, "Path, http(s):// or s3:// URL")->required();
  add->add_option("--token", o->token, "Bearer token for an HTTP remote (stored in .vrepo/config)");
  add->add_option("--endpoint", o->endpoint,
                  "S3: the store's URL (overrides AWS_ENDPOINT_URL; remote.NAME.endpoint)");
  add->add_option("--region", o->region, "S3: the region (overrides AWS_REGION)");
  add->add_option("--path-style", o->path_style,
                  "S3: bucket in the path (true, the default for a custom endpoint) or in the "
                  "host name (false)");
  add->add_flag("--s3-single-writer", o->single_writer,
                "S3: move refs even on a store that ignores conditional writes (safe only while "
                "one client at a time pushes)");
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
              RemoteConfig remote;
              remote.name = o->name;
              remote.url = o->url;
              remote.token = o->token;
              if (!o->endpoint.empty()) remote.s3.endpoint = o->endpoint;
              if (!o->region.empty()) remote.s3.region = o->region;
              remote.s3.path_style = o->path_style;
              remote.s3_single_writer = o->single_writer;
              Status st = AddRemote(**repo, remote);
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
