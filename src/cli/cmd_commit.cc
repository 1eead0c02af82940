// vrepo commit -m MSG [--allow-empty] [-q] [--json]
#include "cli.h"

namespace vrepo::cli {
namespace {

int PrintCommitJson(Repository& repo, const CommitResult& result) {
  auto changes = CommitChanges(repo, result.commit);
  if (!changes.ok()) return Fail("commit", changes.status());
  JsonWriter json;
  json.BeginObject();
  json.Key("commit").String(result.commit);
  json.Key("branch");
  if (result.branch)
    json.String(*result.branch);
  else
    json.Null();
  json.Key("files_changed").Uint(changes->size());
  json.EndObject();
  Print(json.str() + "\n");
  return kExitOk;
}

}  // namespace

Command RegisterCommit(CLI::App& app, Globals& g) {
  struct Opts {
    std::vector<std::string> messages;
    bool allow_empty = false;
    bool quiet = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "commit",
      "Record the staged files as a new commit\n"
      "Writes the staging index as a tree of pointers into the history and moves the current "
      "branch (or the detached HEAD) to the new commit, only after everything it names is "
      "durable. Exits 1 when nothing changed since HEAD, unless --allow-empty.");
  sub->add_option("-m,--message", o->messages,
                  "Commit message; several -m become separate paragraphs")
      ->required();
  sub->add_flag("--allow-empty", o->allow_empty, "Commit even when the tree did not change");
  sub->add_flag("-q,--quiet", o->quiet, "Print nothing on success");
  sub->add_flag("--json", o->json,
                "One JSON object: commit (its id), branch (null when HEAD is detached), "
                "files_changed (against its first parent)");
  return {
      sub, [&g, o] {
        std::string message;
        for (const auto& m : o->messages) {
          if (!message.empty()) message += "\n\n";
          message += m;
        }
        auto repo = OpenRepository(g, /*write=*/true);
        if (!repo.ok()) return Fail("commit", repo.status());
        auto result = Commit(**repo, message, o->allow_empty);
        if (!result.ok()) {
          const Status& st = result.status();
          const std::string& why = st.message();
          if (st.code() == Status::Code::kInvalidArgument && why.starts_with("nothing to commit")) {
            const bool none_staged = why.find("no files are staged") != std::string::npos;
            return FailWith("commit",
                            why + (none_staged ? " [stage files with 'vrepo add']"
                                               : " [stage changes with 'vrepo add']"),
                            kExitFailure);
          }
          if (st.code() == Status::Code::kConflict &&
              why.find("merge conflicts") != std::string::npos) {
            return FailWith("commit",
                            why + " [fix it and 'vrepo add' it, or 'vrepo merge --abort']",
                            kExitFailure);
          }
          return Fail("commit", st);
        }
        if (o->json) return PrintCommitJson(**repo, *result);
        if (o->quiet) return kExitOk;
        std::string where = result->branch ? *result->branch : "detached HEAD";
        if (result->root_commit) where += " (root-commit)";
        Print("[" + where + " " + ShortId(result->commit) + "] " + Subject(message) + "\n");
        return kExitOk;
      }};
}

}  // namespace vrepo::cli
