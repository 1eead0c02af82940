// vrepo fsck [--rebuild-index] [--json]
#include "cli.h"

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

}  // namespace

Command RegisterFsck(CLI::App& app, Globals& g) {
  struct Opts {
    bool rebuild_index = false;
    bool json = false;
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
  return {sub, [&g, o] {
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
