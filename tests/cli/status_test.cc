// status: porcelain v1 codes, the human form, and --json.
#include "cli/cli_support.h"

namespace vrepo::testing {
namespace {

// A repository with one commit of a.txt..d.txt and g.txt.
void MakeCommittedRepo(const std::string& repo) {
  MustRun(repo, {"init"});
  for (std::string name : {"a.txt", "b.txt", "c.txt", "d.txt", "g.txt"}) {
    WriteFile(repo + "/" + name, name + " v1");
  }
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "base"});
}

// Staged, unstaged, both, deleted both ways, untracked, a name that needs quoting.
void MakeChanges(const std::string& repo) {
  WriteFile(repo + "/a.txt", "a.txt v2");  // staged, then changed again
  MustRun(repo, {"add", "a.txt"});
  WriteFile(repo + "/a.txt", "a.txt v3!");
  WriteFile(repo + "/b.txt", "b.txt v2");    // modified, not staged
  std::filesystem::remove(repo + "/c.txt");  // deleted, not staged
  WriteFile(repo + "/d.txt", "d.txt v2");    // modified and staged
  MustRun(repo, {"add", "d.txt"});
  WriteFile(repo + "/e.txt", "e");  // untracked
  WriteFile(repo + "/f.txt", "f");  // new and staged
  MustRun(repo, {"add", "f.txt"});
  MustRun(repo, {"rm", "g.txt"});        // deleted and staged
  WriteFile(repo + "/sp ace.txt", "s");  // untracked, quoted like git's short status
}

}  // namespace

TEST_CASE("cli: status --porcelain shows git's XY codes for every kind of change") {
  TempDir t;
  MakeCommittedRepo(t.path());
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "");
  MakeChanges(t.path());
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out ==
        "MM a.txt\n"
        " M b.txt\n"
        " D c.txt\n"
        "M  d.txt\n"
        "A  f.txt\n"
        "D  g.txt\n"
        "?? e.txt\n"
        "?? \"sp ace.txt\"\n");
  CHECK(MustRun(t.path(), {"status", "--porcelain", "-b"}).out.rfind("## main\nMM a.txt\n", 0) ==
        0);
  CHECK(MustRun(t.path(), {"status", "--porcelain", "-z"})
            .out.find(std::string("?? sp ace.txt\0", 14)) != std::string::npos);
}

TEST_CASE("cli: status in human form groups changes like git") {
  TempDir t;
  MakeCommittedRepo(t.path());
  std::string clean = MustRun(t.path(), {"status"}).out;
  CHECK(clean == "On branch main\n\nnothing to commit, working tree clean\n");
  MakeChanges(t.path());
  std::string out = MustRun(t.path(), {"status"}).out;
  INFO(out);
  CHECK(out.rfind("On branch main\n", 0) == 0);
  auto staged = out.find("Changes to be committed:\n");
  auto unstaged = out.find("Changes not staged for commit:\n");
  auto untracked = out.find("Untracked files:\n");
  REQUIRE(staged != std::string::npos);
  REQUIRE(unstaged != std::string::npos);
  REQUIRE(untracked != std::string::npos);
  CHECK(staged < unstaged);
  CHECK(unstaged < untracked);
  CHECK(out.find("\tnew file:   f.txt\n") > staged);
  CHECK(out.find("\tdeleted:    g.txt\n") < unstaged);
  CHECK(out.find("\tmodified:   b.txt\n") > unstaged);
  CHECK(out.find("\tdeleted:    c.txt\n") > unstaged);
  CHECK(out.find("\te.txt\n") > untracked);
  CHECK(out.find("\tsp ace.txt\n") > untracked);

  // From a subfolder, paths are shown relative to it.
  std::filesystem::create_directories(t / "sub");
  CHECK(MustRun(t / "sub", {"status"}).out.find("\t../e.txt\n") != std::string::npos);
}

TEST_CASE("cli: status on an unborn branch says there are no commits yet") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "x", "x");
  std::string out = MustRun(t.path(), {"status"}).out;
  CHECK(out.rfind("On branch main\n\nNo commits yet\n", 0) == 0);
  CHECK(out.find("\tx\n") != std::string::npos);
  CHECK(MustRun(t.path(), {"status", "--porcelain", "-b"}).out ==
        "## No commits yet on main\n?? x\n");
}

TEST_CASE("cli: status --json is one document with branch, head and entries") {
  TempDir t;
  MakeCommittedRepo(t.path());
  std::string head = MustRun(t.path(), {"rev-parse", "HEAD"}).out.substr(0, 40);
  Json clean = Json::Parse(MustRun(t.path(), {"status", "--json"}).out);
  CHECK(clean["branch"].str == "main");
  CHECK(clean["head"].str == head);
  CHECK(clean["entries"].items.empty());

  MakeChanges(t.path());
  Json j = Json::Parse(MustRun(t.path(), {"status", "--json"}).out);
  const auto& entries = j["entries"].items;
  REQUIRE(entries.size() == 8);
  std::map<std::string, std::pair<std::string, std::string>> got;
  for (const auto& e : entries) {
    got[e["path"].str] = {e["staged"].is_null() ? "-" : e["staged"].str,
                          e["unstaged"].is_null() ? "-" : e["unstaged"].str};
  }
  using P = std::pair<std::string, std::string>;
  CHECK(got["a.txt"] == P{"M", "M"});
  CHECK(got["b.txt"] == P{"-", "M"});
  CHECK(got["c.txt"] == P{"-", "D"});
  CHECK(got["d.txt"] == P{"M", "-"});
  CHECK(got["e.txt"] == P{"-", "?"});
  CHECK(got["f.txt"] == P{"A", "-"});
  CHECK(got["g.txt"] == P{"D", "-"});
  CHECK(got["sp ace.txt"] == P{"-", "?"});

  // Detached HEAD: branch is null.
  MustRun(t.path(), {"checkout", "--force", head});
  Json detached = Json::Parse(MustRun(t.path(), {"status", "--json"}).out);
  CHECK(detached["branch"].is_null());
  CHECK(detached["head"].str == head);
}

TEST_CASE("cli: status shows a wholly untracked folder as one line, -uall lists its files") {
  TempDir t;
  MakeCommittedRepo(t.path());
  WriteFile(t / "data/tracked.txt", "t");
  MustRun(t.path(), {"add", "data"});
  MustRun(t.path(), {"commit", "-m", "data"});
  WriteFile(t / "newbatch/x.png", "x");
  WriteFile(t / "newbatch/sub/y.png", "y");
  WriteFile(t / "data/new.png", "n");
  WriteFile(t / "data/newsub/z.png", "z");
  WriteFile(t / "top.png", "p");

  const std::string normal = "?? data/new.png\n?? data/newsub/\n?? newbatch/\n?? top.png\n";
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == normal);
  CHECK(MustRun(t.path(), {"status", "--porcelain", "--untracked-files=normal"}).out == normal);
  const std::string all =
      "?? data/new.png\n?? data/newsub/z.png\n?? newbatch/sub/y.png\n?? newbatch/x.png\n"
      "?? top.png\n";
  CHECK(MustRun(t.path(), {"status", "--porcelain", "-uall"}).out == all);
  CHECK(MustRun(t.path(), {"status", "--porcelain", "-u", "all"}).out == all);
  CHECK(MustRun(t.path(), {"status", "--porcelain", "--untracked-files=all"}).out == all);
  CHECK(MustRun(t.path(), {"status", "--porcelain", "--untracked-files=no"}).out == "");
  CHECK(RunVrepo(t.path(), {"status", "--untracked-files=some"}).exit_code == 128);  // a setting

  std::string human = MustRun(t.path(), {"status"}).out;
  CHECK(human.find("\tnewbatch/\n") != std::string::npos);
  CHECK(human.find("x.png") == std::string::npos);
  CHECK(MustRun(t / "newbatch", {"status"}).out.find("\t../data/newsub/\n") != std::string::npos);

  // --json lists what --porcelain lists, under the same mode.
  auto json_paths = [&](const std::vector<std::string>& args) {
    std::vector<std::string> paths;
    Json j = Json::Parse(MustRun(t.path(), args).out);
    for (const Json& e : j["entries"].items) {
      paths.push_back(e["path"].str);
    }
    return paths;
  };
  using V = std::vector<std::string>;
  CHECK(json_paths({"status", "--json"}) ==
        V{"data/new.png", "data/newsub/", "newbatch/", "top.png"});
  CHECK(json_paths({"status", "--json", "-uall"}).size() == 5);
  CHECK(json_paths({"status", "--json", "-uno"}).empty());

  // A file whose removal is staged shows both ways, its folder collapsed as git does.
  MustRun(t.path(), {"rm", "--cached", "data/tracked.txt"});
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out ==
        "D  data/tracked.txt\n?? data/\n?? newbatch/\n?? top.png\n");
}

TEST_CASE("cli: restore --staged unstages and keeps the working tree's edit") {
  TempDir t;
  MakeCommittedRepo(t.path());
  WriteFile(t / "a.txt", "a.txt v2");
  WriteFile(t / "new.txt", "new");
  MustRun(t.path(), {"add", "a.txt", "new.txt"});
  MustRun(t.path(), {"rm", "--cached", "b.txt"});
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out ==
        "M  a.txt\nD  b.txt\nA  new.txt\n?? b.txt\n");
  CHECK(MustRun(t.path(), {"status"})
            .out.find("Changes to be committed:\n  (use \"vrepo restore --staged <file>...\" to "
                      "unstage)\n") != std::string::npos);

  MustRun(t.path(), {"restore", "--staged", "a.txt", "new.txt", "b.txt"});
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == " M a.txt\n?? new.txt\n");
  CHECK(ReadFileOrDie(t / "a.txt") == "a.txt v2");
  CHECK(ReadFileOrDie(t / "new.txt") == "new");

  // --staged --worktree: both back to HEAD.
  MustRun(t.path(), {"add", "a.txt"});
  MustRun(t.path(), {"restore", "--staged", "--worktree", "a.txt"});
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "?? new.txt\n");
  CHECK(ReadFileOrDie(t / "a.txt") == "a.txt v1");

  // From another revision, and a path that nothing names.
  WriteFile(t / "a.txt", "a.txt v3");
  MustRun(t.path(), {"add", "a.txt"});
  MustRun(t.path(), {"commit", "-m", "v3"});
  MustRun(t.path(), {"restore", "--staged", "-s", "HEAD~1", "a.txt"});
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "MM a.txt\n?? new.txt\n");
  CHECK(ReadFileOrDie(t / "a.txt") == "a.txt v3");
  CommandResult none = RunVrepo(t.path(), {"restore", "--staged", "nope.txt"});
  CHECK(none.exit_code == 128);
  CHECK(Lines(none.err).size() == 1);
}

}  // namespace vrepo::testing
