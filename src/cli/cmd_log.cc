// vrepo log [REV...] [--all] [--graph] [--oneline] [-n N] [--json] [-- PATH...]
#include "cli.h"
#include "log_graph.h"

namespace vrepo::cli {
namespace {

struct LogOpts {
  std::vector<std::string> revs;
  bool all = false;
  bool graph = false;
  bool oneline = false;
  size_t max_count = 0;
  bool json = false;
};

// Where the walk starts: the revisions given, or every branch, tag and remote-tracking
// branch and HEAD (--all: not runs, which are records beside the history), or HEAD.
Result<std::vector<std::string>> Starts(History& history, const LogOpts& o) {
  if (!o.all) return o.revs.empty() ? std::vector<std::string>{"HEAD"} : o.revs;
  std::vector<std::string> starts = o.revs;
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  if (head) starts.push_back(*head);
  for (const char* prefix : {"refs/heads/", "refs/tags/", "refs/remotes/"}) {
    VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, history.RefsWithPrefix(prefix));
    for (const RefInfo& r : refs) starts.push_back(r.target);
  }
  return starts;
}

// git's answer to `log` on a branch with no commits yet, instead of "unknown revision".
Status CheckHeadBorn(History& history) {
  VREPO_ASSIGN_OR_RETURN(std::optional<std::string> head, history.HeadCommit());
  if (head) return Status::OK();
  auto branch = history.CurrentBranch();
  std::string name = branch.ok() && *branch ? **branch : "HEAD";
  return Status::InvalidArgument("your current branch '" + name +
                                 "' does not have any commits yet");
}

void PrintLog(const LogOpts& o, const std::vector<CommitInfo>& commits) {
  if (o.json) {
    JsonWriter json;
    json.BeginArray();
    for (const auto& c : commits) WriteCommitJson(json, c);
    json.EndArray();
    Print(json.str() + "\n");
    return;
  }
  LogGraph graph;
  for (size_t i = 0; i < commits.size(); ++i) {
    const CommitInfo& c = commits[i];
    std::string text =
        o.oneline ? ShortId(c.id) + " " + Subject(c.message) + "\n" : FormatCommitHeader(c);
    // The blank line between commits belongs to the one above, beside its graph columns.
    if (!o.oneline && i + 1 < commits.size()) text += "\n";
    Print(o.graph ? graph.Draw(c, text) : text);
  }
}

}  // namespace

Command RegisterLog(CLI::App& app, Globals& g) {
  auto o = std::make_shared<LogOpts>();
  CLI::App* sub = app.add_subcommand(
      "log",
      "Show commit history\n"
      "Lists the commits reachable from each REV (HEAD by default), newest first, in git's "
      "format: id, author, date and message. After '--', only the commits that change "
      "something under one of the PATHs (files or folders) are listed, as 'git log -- PATH' "
      "does. Opens the repository read-only.");
  sub->add_option("REV", o->revs, "Revisions to start from (branch, tag, id, REV~N)");
  sub->add_flag("--all", o->all,
                "Start from every branch, tag and remote-tracking branch, and HEAD (not runs)");
  sub->add_flag("--graph", o->graph,
                "Draw the history as an ASCII graph beside the commits ('*' a commit, '|' a "
                "line of descent, '\\' and '/' where lines fork at a merge and join)");
  sub->add_flag("--oneline", o->oneline, "One line per commit: short id and subject");
  sub->add_option("-n,--max-count", o->max_count, "Show at most N commits")->type_name("N");
  sub->add_flag("--json", o->json, "A JSON array of commits")->excludes("--graph");
  return {sub,
          [&g, o] {
            if (o->graph && !g.paths.empty()) {
              return FailWith("log", "--graph cannot be combined with paths", kExitUsage);
            }
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("log", repo.status());
            History& history = (*repo)->history();
            if (o->revs.empty() && !o->all) {
              if (Status st = CheckHeadBorn(history); !st.ok()) return Fail("log", st);
            }
            auto paths = RepoPaths(**repo, g, g.paths);
            if (!paths.ok()) return Fail("log", paths.status());
            auto starts = Starts(history, *o);
            if (!starts.ok()) return Fail("log", starts.status());
            auto commits = history.Log(*starts, o->max_count, *paths);
            if (!commits.ok()) return Fail("log", commits.status());
            PrintLog(*o, *commits);
            return kExitOk;
          },
          /*takes_paths=*/true};
}

}  // namespace vrepo::cli
