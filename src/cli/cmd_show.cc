// vrepo show [REV] [--json], vrepo show REV:PATH
#include <unistd.h>

#include <cstdio>

#include "cli.h"

namespace vrepo::cli {
namespace {

// REV:PATH: the file's bytes exactly as stored, as `git show` prints a blob. PATH is from
// the root, or from the current folder when it starts with "./" or "../" (as in git).
int ShowFile(const Globals& g, Repository& repo, const std::string& rev, const std::string& path) {
  std::string rel = path;
  if (path.rfind("./", 0) == 0 || path.rfind("../", 0) == 0) {
    auto from_cwd = repo.RelativePath(g.cwd, path);
    if (!from_cwd.ok()) return Fail("show", from_cwd.status());
    rel = *from_cwd;
  }
  auto commit = repo.history().ResolveCommit(rev);
  if (!commit.ok()) return Fail("show", commit.status());
  auto file = repo.history().FileAt(*commit, rel);
  if (!file.ok()) {
    const bool folder = file.status().code() == Status::Code::kInvalidArgument;
    return FailWith("show",
                    "path '" + rel + "' " + (folder ? "is a folder" : "does not exist") + " in '" +
                        rev + "'" + (folder ? " [list it with 'vrepo ls-tree " + rev + "']" : ""),
                    kExitFatal);
  }
  std::fflush(stdout);
  Status st = repo.store().WriteTo(file->id, STDOUT_FILENO, "standard output");
  if (!st.ok()) return Fail("show", st);
  return kExitOk;
}

int ShowCommit(Repository& repo, const std::string& rev, bool json_out) {
  History& history = repo.history();
  auto id = history.ResolveCommit(rev);
  if (!id.ok()) return Fail("show", id.status());
  auto commit = history.GetCommit(*id);
  if (!commit.ok()) return Fail("show", commit.status());
  auto changes = CommitChanges(repo, *id);
  if (!changes.ok()) return Fail("show", changes.status());
  if (json_out) {
    JsonWriter json;
    json.BeginObject();
    WriteCommitFields(json, *commit);
    json.Key("changes");
    WriteDiffJson(json, *changes);
    json.EndObject();
    Print(json.str() + "\n");
    return kExitOk;
  }
  Print(FormatCommitHeader(*commit));
  if (!changes->empty()) Print("\n");
  for (const auto& e : *changes) Print(FormatDiffLine(e));
  return kExitOk;
}

}  // namespace

Command RegisterShow(CLI::App& app, Globals& g) {
  struct Opts {
    std::string rev = "HEAD";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "show",
      "Show a commit and the files it changed, or one file at a revision\n"
      "Prints the commit header of REV (HEAD by default) as git log does, then one line per "
      "file added (A), deleted (D) or modified (M) relative to its first parent, with sizes. "
      "A training run (refs/runs/) lists the files it recorded. With REV:PATH, prints the "
      "bytes of the file PATH (from the root, or from here with ./) as it was at REV, "
      "exactly: 'vrepo show v1:images/cat.png > cat.png' restores an image. Opens the "
      "repository read-only.");
  sub->add_option("REV", o->rev, "Commit to show, or REV:PATH for a file's contents");
  sub->add_flag("--json", o->json, "One JSON object: the commit and its changed files");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("show", repo.status());
            size_t colon = o->rev.find(':');
            if (colon == std::string::npos) return ShowCommit(**repo, o->rev, o->json);
            if (o->json) return FailWith("show", "--json shows commits, not REV:PATH", kExitUsage);
            std::string rev = colon == 0 ? "HEAD" : o->rev.substr(0, colon);
            return ShowFile(g, **repo, rev, o->rev.substr(colon + 1));
          }};
}

}  // namespace vrepo::cli
