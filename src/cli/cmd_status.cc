// vrepo status [--porcelain [-b] [-z]] [--json]
#include <algorithm>

#include "cli.h"

namespace vrepo::cli {
namespace {

std::string Code(const std::optional<ChangeKind>& kind) {
  return std::string(1, kind ? static_cast<char>(*kind) : ' ');
}

std::string Porcelain(const StatusReport& report, bool branch_line, bool nul) {
  std::string out;
  char end = nul ? '\0' : '\n';
  if (branch_line) {
    if (!report.branch) {
      out += "## HEAD (no branch)";
    } else if (!report.head) {
      out += "## No commits yet on " + *report.branch;
    } else {
      out += "## " + *report.branch;
    }
    out.push_back(end);
  }
  // As git: tracked changes first, then untracked files; a path whose removal is staged
  // while the file is still there appears in both.
  std::string untracked;
  // As git: a conflicted file not yet re-added is "UU", whatever else is true of it.
  auto unmerged = [&](const std::string& path) {
    return std::binary_search(report.unmerged.begin(), report.unmerged.end(), path);
  };
  for (const auto& path : report.unmerged) {
    out += "UU " + (nul ? path : QuotePath(path, /*quote_spaces=*/true));
    out.push_back(end);
  }
  for (const auto& e : report.entries) {
    if (unmerged(e.path)) continue;
    std::string path = nul ? e.path : QuotePath(e.path, /*quote_spaces=*/true);
    if (e.unstaged == ChangeKind::kUntracked) {
      untracked += "?? " + path;
      untracked.push_back(end);
      if (!e.staged) continue;
      out += Code(e.staged) + "  " + path;
    } else {
      out += Code(e.staged) + Code(e.unstaged) + " " + path;
    }
    out.push_back(end);
  }
  return out + untracked;
}

const char* Label(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded:
      return "new file:   ";
    case ChangeKind::kDeleted:
      return "deleted:    ";
    default:
      return "modified:   ";
  }
}

std::string Human(const Repository& repo, const Globals& g, const StatusReport& report) {
  std::string out;
  if (report.branch) {
    out += "On branch " + *report.branch + "\n";
  } else {
    out += "HEAD detached at " + (report.head ? ShortId(*report.head) : std::string("?")) + "\n";
  }
  if (!report.head) out += "\nNo commits yet\n";
  if (report.merge_head && !report.unmerged.empty()) {
    out += "You have unmerged paths (merging " + ShortId(*report.merge_head) +
           ").\n"
           "  (fix conflicts and run \"vrepo commit\")\n"
           "  (use \"vrepo merge --abort\" to abort the merge)\n"
           "\nUnmerged paths:\n"
           "  (use \"vrepo add <file>...\" to mark resolution)\n";
    for (const auto& path : report.unmerged) {
      out += "\tboth modified:   " + QuotePath(PathFromCwd(repo, g, path), false) + "\n";
    }
  } else if (report.merge_head) {
    out += "All conflicts fixed but you are still merging " + ShortId(*report.merge_head) +
           ".\n  (use \"vrepo commit\" to conclude merge)\n";
  }

  std::string staged, unstaged, untracked;
  for (const auto& e : report.entries) {
    if (std::binary_search(report.unmerged.begin(), report.unmerged.end(), e.path)) continue;
    std::string shown = PathFromCwd(repo, g, e.path);
    std::string path = QuotePath(shown.empty() ? "./" : shown, false);  // the folder we are in
    if (e.staged) staged += std::string("\t") + Label(*e.staged) + path + "\n";
    if (e.unstaged == ChangeKind::kUntracked) {
      untracked += "\t" + path + "\n";
    } else if (e.unstaged) {
      unstaged += std::string("\t") + Label(*e.unstaged) + path + "\n";
    }
  }
  if (!staged.empty()) {
    out +=
        "\nChanges to be committed:\n"
        "  (use \"vrepo restore --staged <file>...\" to unstage)\n" +
        staged;
  }
  if (!unstaged.empty()) {
    out +=
        "\nChanges not staged for commit:\n"
        "  (use \"vrepo add <file>...\" to update what will be committed)\n"
        "  (use \"vrepo restore <file>...\" to discard changes in working directory)\n" +
        unstaged;
  }
  if (!untracked.empty()) {
    out +=
        "\nUntracked files:\n"
        "  (use \"vrepo add <file>...\" to include in what will be committed)\n" +
        untracked;
  }
  out += "\n";
  if (!staged.empty() || !report.unmerged.empty()) return out;
  if (!unstaged.empty()) return out + "no changes added to commit (use \"vrepo add\")\n";
  if (!untracked.empty()) {
    return out +
           "nothing added to commit but untracked files present (use \"vrepo add\" to "
           "track)\n";
  }
  if (!report.head) return out + "nothing to commit (create/copy files and use \"vrepo add\")\n";
  return out + "nothing to commit, working tree clean\n";
}

std::string Json(const StatusReport& report) {
  JsonWriter json;
  json.BeginObject();
  json.Key("branch");
  if (report.branch)
    json.String(*report.branch);
  else
    json.Null();
  json.Key("head");
  if (report.head)
    json.String(*report.head);
  else
    json.Null();
  json.Key("merge_head");
  if (report.merge_head)
    json.String(*report.merge_head);
  else
    json.Null();
  json.Key("unmerged").BeginArray();
  for (const auto& path : report.unmerged) json.String(path);
  json.EndArray();
  json.Key("entries").BeginArray();
  for (const auto& e : report.entries) {
    json.BeginObject();
    json.Key("path").String(e.path);
    json.Key("staged");
    if (e.staged)
      json.String(Code(e.staged));
    else
      json.Null();
    json.Key("unstaged");
    if (e.unstaged)
      json.String(Code(e.unstaged));
    else
      json.Null();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.str() + "\n";
}

}  // namespace

Command RegisterStatus(CLI::App& app, Globals& g) {
  struct Opts {
    bool porcelain = false;
    bool branch = false;
    bool nul = false;
    bool json = false;
    std::string untracked = "normal";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "status",
      "Show the working tree status\n"
      "Lists files staged for the next commit (index vs HEAD), files changed in the working "
      "tree but not staged (working tree vs index) and untracked files. Unchanged files are "
      "recognised by their size and modification time, so a clean tree is not read again. "
      "Opens the repository read-only: it never waits for a writer.");
  auto* porcelain =
      sub->add_flag("--porcelain", o->porcelain, "Machine-readable 'XY path' lines, as git's v1");
  sub->add_flag("-b,--branch", o->branch, "With --porcelain: a first '## branch' line");
  sub->add_flag("-z", o->nul, "With --porcelain: end entries with NUL and do not quote paths");
  sub->add_flag("--json", o->json,
                "One JSON object: branch, head and entries; untracked folders and files are "
                "listed as --untracked-files says, as in --porcelain")
      ->excludes(porcelain);
  sub->add_option("-u,--untracked-files", o->untracked,
                  "normal: a folder holding no tracked file is one entry 'folder/'; all: every "
                  "untracked file (-uall); no: none")
      ->type_name("MODE")
      ->check(CLI::IsMember({"normal", "all", "no"}))
      ->capture_default_str();
  return {sub, [&g, o] {
            // The walk starts first: it runs while the repository opens.
            std::shared_ptr<PendingWalk> walk;
            if (auto root = Repository::FindRoot(g.cwd); root.ok())
              walk = StartStatusWalk(*root, CliReporter());
            auto repo = OpenRepository(g, /*write=*/false);
            if (!repo.ok()) return Fail("status", repo.status());
            const UntrackedFiles untracked = o->untracked == "all"  ? UntrackedFiles::kAll
                                             : o->untracked == "no" ? UntrackedFiles::kNo
                                                                    : UntrackedFiles::kNormal;
            auto report = ComputeStatus(**repo, std::move(walk), untracked);
            if (!report.ok()) return Fail("status", report.status());
            if (o->json) {
              Print(Json(*report));
            } else if (o->porcelain || o->nul) {
              Print(Porcelain(*report, o->branch, o->nul));
            } else {
              Print(Human(**repo, g, *report));
            }
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
