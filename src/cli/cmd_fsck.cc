// vrepo fsck [--rebuild-index] [--json] | fsck --remote NAME [--json]
#include "cli.h"
#include "remote_cli.h"
#include "vrepo/remote/s3_transport.h"

namespace vrepo::cli {

namespace {

int PrintFsck(Repository& repo, const RebuildIndexResult* rebuilt, bool as_json) {
  auto report = Fsck(repo);
  if (!report.ok()) return Fail("fsck", report.status());
  if (as_json) {
    JsonWriter json;
    json.BeginObject();
    if (rebuilt) {
      json.Key("rebuilt").BeginObject();
      json.Key("packs").Uint(rebuilt->store.packs);
      json.Key("objects").Uint(rebuilt->store.objects);
      json.Key("staged").Uint(rebuilt->staged);
      json.Key("old_index").String(rebuilt->store.old_index);
      json.Key("problems").BeginArray();
      for (const auto& p : rebuilt->store.problems) json.String(p);
      json.EndArray();
      json.EndObject();
    }
    json.Key("objects_checked").Uint(report->objects_checked);
    json.Key("absent").Uint(report->absent);
    json.Key("problems").BeginArray();
    for (const auto& p : report->problems) json.String(p);
    json.EndArray();
    json.EndObject();
    Print(json.str() + "\n");
  } else {
    if (rebuilt) {
      const IndexRebuildReport& r = rebuilt->store;
      std::string line = "rebuilt the index from " + std::to_string(r.packs) +
                         " pack files: " + std::to_string(r.objects) + " objects, " +
                         std::to_string(rebuilt->staged) + " files staged from HEAD";
      if (!r.old_index.empty()) line += "; the old index is in " + r.old_index;
      Print(line + "\n");
      for (const auto& p : r.problems) Print(p + "\n");
    }
    for (const auto& p : report->problems) Print(p + "\n");
    if (report->absent > 0) {
      Print(std::to_string(report->absent) + " objects absent (lazy clone; fetched on demand " +
            "from '" + report->lazy_remote + "')\n");
    }
  }
  return report->problems.empty() ? kExitOk : kExitFailure;
}

// fsck --remote: reads a whole S3 remote back.
int PrintRemoteFsck(Repository& repo, const std::string& name, bool as_json) {
  auto remote = OpenRemote(repo, name);
  if (!remote.ok()) return Fail("fsck --remote", remote.status());
  auto check = CheckS3Remote(*remote->transport, as_json ? nullptr : CliReporter());
  if (!check.ok()) return Fail("fsck --remote " + name, check.status());
  if (as_json) {
    JsonWriter json;
    json.BeginObject();
    json.Key("remote").String(remote->url);
    json.Key("packs").Uint(check->packs);
    json.Key("objects").Uint(check->objects);
    json.Key("pack_bytes").Uint(check->pack_bytes);
    json.Key("unindexed_packs").Uint(check->unindexed_packs);
    json.Key("history_packs").Uint(check->history_packs);
    json.Key("refs").Uint(check->refs);
    json.Key("problems").BeginArray();
    for (const auto& p : check->problems) json.String(p);
    json.EndArray();
    json.EndObject();
    Print(json.str() + "\n");
  } else {
    for (const auto& p : check->problems) Print(p + "\n");
    std::string line =
        remote->url + ": " + std::to_string(check->packs) + " packs (" +
        HumanBytes(check->pack_bytes) + ", " + std::to_string(check->objects) + " objects), " +
        std::to_string(check->history_packs) + " history packs, " + std::to_string(check->refs) +
        " refs: " +
        (check->problems.empty() ? "ok" : std::to_string(check->problems.size()) + " problems");
    if (check->unindexed_packs > 0) {
      line += "; " + std::to_string(check->unindexed_packs) +
              " packs without an index (left by interrupted pushes, never read)";
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return check->problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace

Command RegisterFsck(CLI::App& app, Globals& g) {
  struct Opts {
    bool rebuild_index = false;
    bool json = false;
    std::string remote;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "fsck",
      "Verify the repository\n"
      "Reads every stored object back and checks it against its SHA-256 id, and checks that "
      "every commit, tree and pointer reachable from a ref reads back. Prints one line per "
      "problem, naming the object and the pack file, and exits 1 when there is any. Opens the "
      "repository read-only, except with --rebuild-index.");
  sub->add_flag("--rebuild-index", o->rebuild_index,
                "First make a new index from the pack files (when .vrepo/index is missing or "
                "damaged; the old one is moved aside), restage HEAD's files, then verify. "
                "Large files' chunk lists live only in the index and cannot be rebuilt: fsck "
                "then names those files as missing");
  sub->add_flag("--json", o->json, "One JSON object: objects_checked and problems");
  sub->add_option("--remote", o->remote,
                  "Check the S3 remote NAME instead: reads every pack and checks it against its "
                  "SHA-256 name and its index, every object against its id, and that every "
                  "ref's commits and content are there")
      ->excludes("--rebuild-index");
  return {sub, [&g, o] {
            if (!o->remote.empty()) {
              auto repo = OpenRepository(g, /*write=*/false);
              if (!repo.ok()) return Fail("fsck", repo.status());
              return PrintRemoteFsck(**repo, o->remote, o->json);
            }
            if (o->rebuild_index) {
              auto rebuilt = RebuildIndex(g.cwd, g.wait);
              if (!rebuilt.ok()) return Fail("fsck", rebuilt.status());
              return PrintFsck(*rebuilt->repo, &*rebuilt, o->json);
            }
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("fsck", repo.status());
            return PrintFsck(**repo, nullptr, o->json);
          }};
}

}  // namespace vrepo::cli
