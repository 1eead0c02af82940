// vrepo branch [NAME [START]] | -d NAME | [--json]
#include <algorithm>

#include "cli.h"

namespace vrepo::cli {
namespace {

int List(const Globals& g, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("branch", repo.status());
  History& history = (*repo)->history();
  auto branches = history.Branches();
  if (!branches.ok()) return Fail("branch", branches.status());
  std::sort(branches->begin(), branches->end(),
            [](const RefInfo& a, const RefInfo& b) { return a.name < b.name; });
  if (as_json) {
    JsonWriter json;
    json.BeginArray();
    for (const auto& b : *branches) {
      json.BeginObject();
      json.Key("name").String(b.name);
      json.Key("commit").String(b.target);
      json.Key("current").Bool(b.current);
      json.EndObject();
    }
    json.EndArray();
    Print(json.str() + "\n");
    return kExitOk;
  }
  auto current = history.CurrentBranch();
  if (!current.ok()) return Fail("branch", current.status());
  if (!*current) {
    auto head = history.HeadCommit();
    if (head.ok() && *head) Print("* (HEAD detached at " + ShortId(**head) + ")\n");
  }
  for (const auto& b : *branches) Print((b.current ? "* " : "  ") + b.name + "\n");
  return kExitOk;
}

}  // namespace

Command RegisterBranch(CLI::App& app, Globals& g) {
  struct Opts {
    std::string name;
    std::string start = "HEAD";
    std::string del;
    bool force = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "branch",
      "List, create or delete branches\n"
      "With no arguments, lists branches with '*' on the current one. With NAME, creates a "
      "branch at START (HEAD by default) without switching to it. With -d, deletes a branch "
      "(never the current one). Listing opens the repository read-only.");
  auto* name = sub->add_option("NAME", o->name, "Branch to create");
  sub->add_option("START", o->start, "Revision the new branch points at")->needs(name);
  sub->add_option("-d,--delete", o->del, "Delete branch NAME")->type_name("NAME")->excludes(name);
  sub->add_flag("-f,--force", o->force, "Move NAME to START even when it exists");
  sub->add_flag("--json", o->json, "List as a JSON array: name, commit, current");
  return {sub, [&g, o] {
            if (o->name.empty() && o->del.empty()) return List(g, o->json);
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("branch", repo.status());
            History& history = (*repo)->history();
            if (!o->del.empty()) {
              std::string was;
              auto branches = history.Branches();
              if (branches.ok()) {
                for (const auto& b : *branches) {
                  if (b.name == o->del) was = b.target;
                }
              }
              Status st = history.DeleteBranch(o->del);
              if (!st.ok()) return Fail("branch", st);
              Print("Deleted branch " + o->del + " (was " + ShortId(was) + ").\n");
              return kExitOk;
            }
            auto start = history.ResolveCommit(o->start);
            if (!start.ok()) return Fail("branch", start.status());
            Status st = history.CreateBranch(o->name, *start, o->force);
            if (!st.ok()) return Fail("branch", st);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
