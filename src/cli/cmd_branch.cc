// vrepo branch [NAME [START]] | -d NAME | [-r | -a] [--json]
#include <optional>

#include "cli.h"
#include "vrepo/remote/tracking.h"

namespace vrepo::cli {
namespace {

// Which branches a listing shows: local ones, remote-tracking ones (-r), or both (-a).
struct Listing {
  bool local = true;
  bool remote = false;
};

// A listed branch: `name` as printed ("main", "origin/main", or with -a
// "remotes/origin/main"); `remote` names the remote of a remote-tracking branch.
struct Listed {
  std::string name;
  std::string commit;
  bool current = false;
  std::optional<std::string> remote;
};

Result<std::vector<Listed>> ListedBranches(History& history, const Listing& which) {
  std::vector<Listed> out;
  if (which.local) {
    VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> branches, history.Branches());
    for (const RefInfo& b : branches) out.push_back({b.name, b.target, b.current, std::nullopt});
  }
  if (which.remote) {
    VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> tracking, history.RefsWithPrefix("refs/remotes/"));
    // git names them remotes/origin/main beside local branches, origin/main alone.
    std::string prefix = which.local ? "remotes/" : "";
    for (const RefInfo& r : tracking) {
      out.push_back({prefix + r.name, r.target, false, r.name.substr(0, r.name.find('/'))});
    }
  }
  return out;
}

void PrintJson(const std::vector<Listed>& branches, const Listing& which) {
  JsonWriter json;
  json.BeginArray();
  for (const Listed& b : branches) {
    json.BeginObject();
    json.Key("name").String(b.name);
    json.Key("commit").String(b.commit);
    json.Key("current").Bool(b.current);
    if (which.remote) {
      json.Key("remote");
      if (b.remote) {
        json.String(*b.remote);
      } else {
        json.Null();
      }
    }
    json.EndObject();
  }
  json.EndArray();
  Print(json.str() + "\n");
}

int List(const Globals& g, const Listing& which, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("branch", repo.status());
  History& history = (*repo)->history();
  auto branches = ListedBranches(history, which);
  if (!branches.ok()) return Fail("branch", branches.status());
  if (as_json) {
    PrintJson(*branches, which);
    return kExitOk;
  }
  auto current = history.CurrentBranch();
  if (!current.ok()) return Fail("branch", current.status());
  if (!*current && which.local) {
    auto head = history.HeadCommit();
    if (head.ok() && *head) Print("* (HEAD detached at " + ShortId(**head) + ")\n");
  }
  for (const auto& b : *branches) Print((b.current ? "* " : "  ") + b.name + "\n");
  return kExitOk;
}

int Delete(Repository& repo, const std::string& name) {
  History& history = repo.history();
  std::string was;
  auto branches = history.Branches();
  if (branches.ok()) {
    for (const auto& b : *branches) {
      if (b.name == name) was = b.target;
    }
  }
  Status st = history.DeleteBranch(name);
  if (st.ok()) st = RemoveUpstream(repo, name);
  if (!st.ok()) return Fail("branch", st);
  Print("Deleted branch " + name + " (was " + ShortId(was) + ").\n");
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
    bool remotes = false;
    bool all = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "branch",
      "List, create or delete branches\n"
      "With no arguments, lists branches with '*' on the current one; -r lists the "
      "remote-tracking branches (origin/main, moved by fetch), -a both. With NAME, creates a "
      "branch at START (HEAD by default) without switching to it; a START that is a "
      "remote-tracking branch becomes NAME's upstream, which 'vrepo pull' follows. With -d, "
      "deletes a branch (never the current one). Listing opens the repository read-only.");
  auto* name = sub->add_option("NAME", o->name, "Branch to create");
  sub->add_option("START", o->start, "Revision the new branch points at")->needs(name);
  sub->add_option("-d,--delete", o->del, "Delete branch NAME")->type_name("NAME")->excludes(name);
  sub->add_flag("-f,--force", o->force, "Move NAME to START even when it exists");
  auto* remotes = sub->add_flag("-r,--remotes", o->remotes, "List remote-tracking branches");
  sub->add_flag("-a,--all", o->all, "List local, then remote-tracking branches")->excludes(remotes);
  sub->add_flag("--json", o->json,
                "List as a JSON array: name, commit, current (with -r or -a also remote: the "
                "remote's name, null for a local branch)");
  return {sub, [&g, o] {
            bool listing = o->name.empty() && o->del.empty();
            if (!listing && (o->remotes || o->all)) {
              return FailWith("branch", "-r and -a only list branches", kExitUsage);
            }
            if (listing) return List(g, {!o->remotes, o->remotes || o->all}, o->json);
            auto repo = OpenRepository(g, /*write=*/true);
            if (!repo.ok()) return Fail("branch", repo.status());
            if (!o->del.empty()) return Delete(**repo, o->del);
            auto upstream = CreateBranchFrom(**repo, o->name, o->start, o->force);
            if (!upstream.ok()) return Fail("branch", upstream.status());
            if (*upstream) {
              Print("branch '" + o->name + "' set up to track '" + (*upstream)->TrackingName() +
                    "'.\n");
            }
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
