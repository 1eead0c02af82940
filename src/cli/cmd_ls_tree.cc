// vrepo ls-tree [REV] [--json]
#include <cstdio>

#include "cli.h"

namespace vrepo::cli {

Command RegisterLsTree(CLI::App& app, Globals& g) {
  struct Opts {
    std::string rev = "HEAD";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "ls-tree",
      "List the files of a commit\n"
      "Prints every file of REV's tree (HEAD by default), recursively, one line each: "
      "'<mode> blob <content id> <size>\\t<path>', where the content id is the SHA-256 of the "
      "file's bytes. Opens the repository read-only.");
  sub->add_option("REV", o->rev, "Commit to list (HEAD by default)");
  sub->add_flag("--json", o->json, "A JSON array: path, mode, id, size, executable");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("ls-tree", repo.status());
            History& history = (*repo)->history();
            auto commit = history.ResolveCommit(o->rev);
            if (!commit.ok()) return Fail("ls-tree", commit.status());
            auto files = history.ReadTree(*commit);
            if (!files.ok()) return Fail("ls-tree", files.status());
            if (o->json) {
              JsonWriter json;
              json.BeginArray();
              for (const auto& f : *files) {
                json.BeginObject();
                json.Key("path").String(f.path);
                json.Key("mode").String(f.executable ? "100755" : "100644");
                json.Key("id").String(f.id.Hex());
                json.Key("size").Uint(f.size);
                json.Key("executable").Bool(f.executable);
                json.EndObject();
              }
              json.EndArray();
              Print(json.str() + "\n");
              return kExitOk;
            }
            std::string out;
            for (const auto& f : *files) {
              out += f.executable ? "100755" : "100644";
              out += " blob " + f.id.Hex() + " " + std::to_string(f.size) + "\t" +
                     QuotePath(f.path, false) + "\n";
              if (out.size() > (1 << 16)) {
                Print(out);
                out.clear();
              }
            }
            Print(out);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
