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

}  // namespace vrepo::testing
