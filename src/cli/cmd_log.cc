// vrepo log [REV] [--oneline] [-n N] [--json]
#include "cli.h"

namespace vrepo::cli {

Command RegisterLog(CLI::App& app, Globals& g) {
  struct Opts {
    std::string rev = "HEAD";
    bool oneline = false;
    size_t max_count = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "log",
      "Show commit history\n"
      "Lists the commits reachable from REV (HEAD by default), newest first, in git's format: "
      "id, author, date and message. Opens the repository read-only.");
  sub->add_option("REV", o->rev, "Revision to start from (branch, tag, id, REV~N)");
  sub->add_flag("--oneline", o->oneline, "One line per commit: short id and subject");
  sub->add_option("-n,--max-count", o->max_count, "Show at most N commits")->type_name("N");
  sub->add_flag("--json", o->json, "A JSON array of commits");
  return {sub, [&g, o] {
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("log", repo.status());
            History& history = (*repo)->history();
            if (o->rev == "HEAD") {
              auto head = history.HeadCommit();
              if (!head.ok()) return Fail("log", head.status());
              if (!*head) {
                auto branch = history.CurrentBranch();
                std::string name = branch.ok() && *branch ? **branch : "HEAD";
                return FailWith("log",
                                "your current branch '" + name + "' does not have any commits yet",
                                kExitFatal);
              }
            }
            auto start = history.ResolveCommit(o->rev);
            if (!start.ok()) return Fail("log", start.status());
            auto commits = history.Log(*start, o->max_count);
            if (!commits.ok()) return Fail("log", commits.status());
            if (o->json) {
              JsonWriter json;
              json.BeginArray();
              for (const auto& c : *commits) WriteCommitJson(json, c);
              json.EndArray();
              Print(json.str() + "\n");
              return kExitOk;
            }
            bool first = true;
            for (const auto& c : *commits) {
              if (o->oneline) {
                Print(ShortId(c.id) + " " + Subject(c.message) + "\n");
              } else {
                if (!first) Print("\n");
                Print(FormatCommitHeader(c));
              }
              first = false;
            }
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
