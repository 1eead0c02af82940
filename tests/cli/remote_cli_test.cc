// The sharing commands end to end: remote, push, fetch, pull and clone over a local path.
#include <doctest/doctest.h>

#include "cli/cli_support.h"

namespace vrepo::testing {
namespace {

// A repository "a" with one commit, pushed to the bare remote "hub" through remote origin.
struct Team {
  TempDir dir;
  std::string a = dir / "a";
  std::string hub = dir / "hub";
  Team() {
    WriteFile(a + "/x.txt", "one\n");
    WriteFile(a + "/img/0.png", RandomBytes(5000, 1));
    MustRun(dir.path(), {"init", "a"});
    MustRun(a, {"add", "."});
    MustRun(a, {"commit", "-m", "first"});
    MustRun(a, {"remote", "add", "origin", hub});
    MustRun(a, {"push"});
  }
  void CommitIn(const std::string& repo, const std::string& file, const std::string& data) {
    WriteFile(repo + "/" + file, data);
    AgeFile(repo + "/" + file, 10);
    MustRun(repo, {"add", "."});
    MustRun(repo, {"commit", "-m", "change " + file});
  }
};

TEST_CASE("remote add, list and remove, tokens are never printed") {
  TempDir dir;
  MustRun(dir.path(), {"init"});
  MustRun(dir.path(), {"remote", "add", "origin", "/data/team.vrepo"});
  MustRun(dir.path(), {"remote", "add", "web", "http://127.0.0.1:8080/team", "--token", "s3cret"});
  CHECK(MustRun(dir.path(), {"remote"}).out == "origin\nweb\n");
  std::string verbose = MustRun(dir.path(), {"remote", "list", "-v"}).out;
  CHECK(verbose.find("origin\t/data/team.vrepo (fetch)\n") != std::string::npos);
  CHECK(verbose.find("s3cret") == std::string::npos);
  std::string json = MustRun(dir.path(), {"remote", "list", "--json"}).out;
  CHECK(json.find("\"has_token\":true") != std::string::npos);
  CHECK(json.find("s3cret") == std::string::npos);
  CommandResult again = RunVrepo(dir.path(), {"remote", "add", "origin", "/x"});
  CHECK(again.exit_code == 3);
  CHECK(again.err == "vrepo: remote add: remote origin already exists\n");
  MustRun(dir.path(), {"remote", "remove", "web"});
  CHECK(MustRun(dir.path(), {"remote"}).out == "origin\n");
  CHECK(RunVrepo(dir.path(), {"remote", "remove", "web"}).exit_code == 2);
  CHECK(RunVrepo(dir.path(), {"remote", "add", "bad/name", "/x"}).exit_code == 128);
}

TEST_CASE("push prints git's lines, clone reproduces the commit and files") {
  Team t;
  std::string head = MustRun(t.a, {"rev-parse", "HEAD"}).out;
  CommandResult clone = RunVrepo(t.dir.path(), {"clone", t.hub, "b"});
  REQUIRE(clone.exit_code == 0);
  CHECK(clone.err.find("Cloning into 'b'...") != std::string::npos);
  std::string b = t.dir / "b";
  CHECK(MustRun(b, {"rev-parse", "HEAD"}).out == head);
  CHECK(SnapshotDiff(TakeSnapshot(t.a), TakeSnapshot(b)) == "");
  MustRun(b, {"fsck"});

  t.CommitIn(t.a, "x.txt", "two\n");
  std::string new_head = MustRun(t.a, {"rev-parse", "HEAD"}).out;
  CommandResult push = RunVrepo(t.a, {"push"});
  CHECK(push.exit_code == 0);
  CHECK(push.err == "To " + t.hub + "\n   " + head.substr(0, 7) + ".." + new_head.substr(0, 7) +
                        "  main -> main\n");
  CommandResult same = RunVrepo(t.a, {"push"});
  CHECK(same.err == "Everything up-to-date\n");
  CommandResult json = RunVrepo(t.a, {"push", "--json"});
  CHECK(json.exit_code == 0);
  CHECK(json.out.find("\"status\":\"up to date\"") != std::string::npos);
}

TEST_CASE(
    "a rejected push exits 1 and says to fetch first, pull fast-forwards or points to merge") {
  Team t;
  MustRun(t.dir.path(), {"clone", t.hub, "b"});
  std::string b = t.dir / "b";
  t.CommitIn(t.a, "x.txt", "from a\n");
  MustRun(t.a, {"push"});

  // b is behind: pull fast-forwards it and its working tree.
  CommandResult pull = RunVrepo(b, {"pull"});
  CHECK(pull.exit_code == 0);
  CHECK(pull.out.find("Fast-forward") != std::string::npos);
  CHECK(ReadFileOrDie(b + "/x.txt") == "from a\n");
  CHECK(MustRun(b, {"pull"}).out == "Already up to date.\n");

  // Both commit: b's push is rejected, and pull refuses to merge by itself.
  t.CommitIn(t.a, "x.txt", "a again\n");
  MustRun(t.a, {"push"});
  t.CommitIn(b, "y.txt", "from b\n");
  CommandResult rejected = RunVrepo(b, {"push"});
  CHECK(rejected.exit_code == 1);
  CHECK(rejected.err.find(" ! [rejected]        main -> main (fetch first)") != std::string::npos);
  CHECK(rejected.err.find("error: failed to push some refs to '" + t.hub + "'") !=
        std::string::npos);
  CommandResult diverged = RunVrepo(b, {"pull"});
  CHECK(diverged.exit_code == 1);
  CHECK(diverged.err.find("'main' and 'origin/main' have diverged; nothing was changed "
                          "[run 'vrepo merge origin/main', then commit]") != std::string::npos);
  CHECK(ReadFileOrDie(b + "/y.txt") == "from b\n");
  // origin/main resolves, so the merge the message names can run.
  CHECK(MustRun(b, {"rev-parse", "origin/main"}).out == MustRun(t.a, {"rev-parse", "HEAD"}).out);
}

TEST_CASE("pull refuses to overwrite uncommitted changes") {
  Team t;
  MustRun(t.dir.path(), {"clone", t.hub, "b"});
  std::string b = t.dir / "b";
  t.CommitIn(t.a, "x.txt", "from a\n");
  MustRun(t.a, {"push"});
  WriteFile(b + "/x.txt", "local edit\n");
  CommandResult pull = RunVrepo(b, {"pull"});
  CHECK(pull.exit_code == 1);
  CHECK(pull.err.find("x.txt") != std::string::npos);
  // What the fetch brought is shown before the refusal, which is the fast-forward's.
  CHECK(pull.err.find("-> origin/main") != std::string::npos);
  CHECK(pull.err.find("vrepo: pull: ") != std::string::npos);
  CHECK(ReadFileOrDie(b + "/x.txt") == "local edit\n");
}

TEST_CASE("fetch --json and bad remotes") {
  Team t;
  MustRun(t.dir.path(), {"clone", t.hub, "b"});
  std::string b = t.dir / "b";
  t.CommitIn(t.a, "x.txt", "from a\n");
  MustRun(t.a, {"push"});
  CommandResult fetch = RunVrepo(b, {"fetch", "--json"});
  CHECK(fetch.exit_code == 0);
  CHECK(fetch.out.find("\"name\":\"refs/remotes/origin/main\"") != std::string::npos);
  CHECK(fetch.out.find("\"commits\":1") != std::string::npos);
  CommandResult unknown = RunVrepo(b, {"push", "nowhere"});
  CHECK(unknown.exit_code == 128);
  CHECK(unknown.err.find("'nowhere' is not a configured remote") != std::string::npos);
  CommandResult exists = RunVrepo(t.dir.path(), {"clone", t.hub, "b"});
  CHECK(exists.exit_code == 128);
  CHECK(exists.err.find("already exists and is not an empty folder") != std::string::npos);
  CHECK(RunVrepo(t.dir.path(), {"clone", t.dir / "missing", "c"}).exit_code == 128);
  CHECK_FALSE(Exists(t.dir / "c"));
}

TEST_CASE("every sharing command has --help") {
  TempDir dir;
  for (const char* cmd : {"remote", "push", "fetch", "pull", "clone"}) {
    CommandResult r = RunVrepo(dir.path(), {cmd, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(std::string("vrepo ") + cmd) != std::string::npos);
    CHECK(r.out.size() > 200);
  }
}

TEST_CASE("push --runs or --tags to a fresh remote sends the current branch too") {
  TempDir dir;
  std::string a = dir / "a", hub = dir / "hub";
  WriteFile(a + "/x.txt", "one\n");
  MustRun(dir.path(), {"init", "a"});
  MustRun(a, {"add", "."});
  MustRun(a, {"commit", "-m", "first"});
  MustRun(a, {"remote", "add", "origin", hub});
  CommandResult runs = RunVrepo(a, {"push", "origin", "--runs"});
  CHECK(runs.exit_code == 0);
  CHECK(runs.err.find("Everything up-to-date") == std::string::npos);
  CHECK(runs.err.find("[new branch]      main -> main") != std::string::npos);
  MustRun(dir.path(), {"clone", hub, "b"});
  CHECK(MustRun(dir / "b", {"rev-parse", "main"}).out == MustRun(a, {"rev-parse", "HEAD"}).out);

  WriteFile(a + "/x.txt", "two\n");
  AgeFile(a + "/x.txt", 10);
  MustRun(a, {"add", "."});
  MustRun(a, {"commit", "-m", "second"});
  MustRun(a, {"tag", "v1"});
  CommandResult tags = RunVrepo(a, {"push", "origin", "--tags"});
  CHECK(tags.exit_code == 0);
  CHECK(tags.err.find("main -> main") != std::string::npos);
  CHECK(tags.err.find("[new tag]         v1 -> v1") != std::string::npos);
  MustRun(dir / "b", {"pull"});
  CHECK(ReadFileOrDie(dir / "b/x.txt") == "two\n");
}

TEST_CASE("a push to the branch a remote's working tree has checked out says so and what to do") {
  TempDir dir;
  std::string a = dir / "a", b = dir / "b";
  WriteFile(a + "/x.txt", "one\n");
  MustRun(dir.path(), {"init", "a"});
  MustRun(a, {"add", "."});
  MustRun(a, {"commit", "-m", "first"});
  MustRun(dir.path(), {"clone", a, "b"});
  WriteFile(b + "/x.txt", "from b\n");
  AgeFile(b + "/x.txt", 10);
  MustRun(b, {"add", "."});
  MustRun(b, {"commit", "-m", "b"});
  CommandResult push = RunVrepo(b, {"push"});
  CHECK(push.exit_code == 1);
  INFO(push.err);
  CHECK(push.err.find(" ! [rejected]        main -> main (branch is checked out in the "
                      "remote's working tree)") != std::string::npos);
  CHECK(push.err.find("'vrepo init --bare DIR'") != std::string::npos);
  CHECK(push.err.find("switch the remote's working tree to another branch") != std::string::npos);
  CHECK(push.err.find("fetch") == std::string::npos);
  CHECK(ReadFileOrDie(a + "/x.txt") == "one\n");
  CommandResult json = RunVrepo(b, {"push", "--json"});
  CHECK(json.exit_code == 1);
  CHECK(Json::Parse(json.out)["refs"][0]["status"].str ==
        "rejected: branch is checked out in the remote's working tree");
  // Another branch of the same remote is no one's working tree.
  MustRun(b, {"switch", "-c", "side"});
  MustRun(b, {"push", "origin", "side"});
  CHECK(MustRun(a, {"rev-parse", "side"}).out == MustRun(b, {"rev-parse", "HEAD"}).out);
}

TEST_CASE("init --bare: push any branch to it, clone and fetch from it, no work-tree commands") {
  TempDir dir;
  std::string a = dir / "a", hub = dir / "hub.vrepo", c = dir / "c";
  CommandResult init = RunVrepo(dir.path(), {"init", "--bare", "hub.vrepo"});
  CHECK(init.exit_code == 0);
  CHECK(init.out.starts_with("Initialized empty bare vrepo repository in "));
  CHECK(init.out.ends_with("/hub.vrepo/.vrepo/\n"));
  WriteFile(a + "/x.txt", "one\n");
  MustRun(dir.path(), {"init", "a"});
  MustRun(a, {"add", "."});
  MustRun(a, {"commit", "-m", "first"});
  MustRun(a, {"branch", "side"});
  MustRun(a, {"remote", "add", "origin", hub});
  MustRun(a, {"push", "origin", "main", "side"});
  MustRun(dir.path(), {"clone", hub, c});
  CHECK(ReadFileOrDie(c + "/x.txt") == "one\n");

  // The hub's HEAD branch takes pushes: no working tree has it checked out.
  WriteFile(a + "/x.txt", "two\n");
  AgeFile(a + "/x.txt", 10);
  MustRun(a, {"add", "."});
  MustRun(a, {"commit", "-m", "second"});
  MustRun(a, {"push"});
  CHECK(MustRun(hub, {"rev-parse", "main"}).out == MustRun(a, {"rev-parse", "HEAD"}).out);
  MustRun(c, {"fetch"});
  CHECK(MustRun(c, {"rev-parse", "origin/main"}).out == MustRun(a, {"rev-parse", "HEAD"}).out);
  CHECK(Lines(MustRun(hub, {"log", "--oneline"}).out).size() == 2);
  CHECK(MustRun(hub, {"branch"}).out == "* main\n  side\n");

  const std::vector<std::vector<std::string>> need_a_work_tree = {
      {"status"}, {"add", "."},    {"commit", "-m", "m"}, {"switch", "side"}, {"restore", "x.txt"},
      {"diff"},   {"rm", "x.txt"}, {"checkout", "side"},  {"merge", "side"},  {"mv", "a", "b"},
  };
  for (const auto& args : need_a_work_tree) {
    CommandResult r = RunVrepo(hub, args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 128);
    CHECK(r.err.find("this operation must be run in a work tree\n") != std::string::npos);
    CHECK(Lines(r.err).size() == 1);
  }
}

// a has main and feature, pushed to hub; b is a clone of hub, on main.
struct Branches : Team {
  std::string b = dir / "b";
  Branches() {
    MustRun(a, {"switch", "-c", "feature"});
    CommitIn(a, "f.txt", "feature\n");
    MustRun(a, {"push", "origin", "feature"});
    MustRun(a, {"switch", "main"});
    MustRun(dir.path(), {"clone", hub, "b"});
  }
};

TEST_CASE("switch BRANCH that only origin has creates it there, tracking it, and pull follows") {
  Branches t;
  CommandResult sw = RunVrepo(t.b, {"switch", "feature"});
  CHECK(sw.exit_code == 0);
  CHECK(sw.out == "branch 'feature' set up to track 'origin/feature'.\n");
  CHECK(sw.err == "Switched to a new branch 'feature'\n");
  CHECK(ReadFileOrDie(t.b + "/f.txt") == "feature\n");
  CHECK(MustRun(t.b, {"rev-parse", "HEAD"}).out == MustRun(t.a, {"rev-parse", "feature"}).out);
  MustRun(t.a, {"switch", "feature"});
  t.CommitIn(t.a, "f.txt", "feature 2\n");
  MustRun(t.a, {"push"});
  CHECK(MustRun(t.b, {"pull"}).out.find("Fast-forward") != std::string::npos);
  CHECK(ReadFileOrDie(t.b + "/f.txt") == "feature 2\n");
}

TEST_CASE("switch BRANCH refuses when several remotes have it, naming them") {
  Branches t;
  MustRun(t.b, {"remote", "add", "up", t.hub});
  MustRun(t.b, {"fetch", "up"});
  CommandResult sw = RunVrepo(t.b, {"switch", "feature"});
  CHECK(sw.exit_code == 128);
  CHECK(sw.err.find("origin/feature, up/feature") != std::string::npos);
  CHECK(Lines(sw.err).size() == 1);
  CHECK(RunVrepo(t.b, {"rev-parse", "refs/heads/feature"}).exit_code != 0);
  CommandResult none = RunVrepo(t.b, {"switch", "nowhere"});
  CHECK(none.exit_code == 128);
  CHECK(none.err.find("no branch named 'nowhere'") != std::string::npos);
}

TEST_CASE("switch -c NEW origin/X and branch NEW origin/X track it, branch -r and -a list them") {
  Branches t;
  CommandResult sw = RunVrepo(t.b, {"switch", "-c", "mine", "origin/feature"});
  CHECK(sw.exit_code == 0);
  CHECK(sw.out == "branch 'mine' set up to track 'origin/feature'.\n");
  CHECK(sw.err == "Switched to a new branch 'mine'\n");
  CHECK(ReadFileOrDie(t.b + "/f.txt") == "feature\n");
  CHECK(MustRun(t.b, {"pull"}).out == "Already up to date.\n");
  CHECK(MustRun(t.b, {"branch", "other", "origin/main"}).out ==
        "branch 'other' set up to track 'origin/main'.\n");
  CHECK(MustRun(t.b, {"branch", "plain", "HEAD"}).out == "");
  CHECK(RunVrepo(t.b, {"switch", "mine2", "origin/main"}).exit_code == 129);

  CHECK(MustRun(t.b, {"branch", "-r"}).out == "  origin/feature\n  origin/main\n");
  CHECK(MustRun(t.b, {"branch", "-a"}).out ==
        "  main\n* mine\n  other\n  plain\n  remotes/origin/feature\n  remotes/origin/main\n");
  Json all = Json::Parse(MustRun(t.b, {"branch", "-a", "--json"}).out);
  REQUIRE(all.items.size() == 6);
  CHECK(all[1]["name"].str == "mine");
  CHECK(all[1]["current"].b);
  CHECK(all[1]["remote"].is_null());
  CHECK(all[5]["name"].str == "remotes/origin/main");
  CHECK(all[5]["remote"].str == "origin");
  CHECK(all[5]["commit"].str + "\n" == MustRun(t.b, {"rev-parse", "origin/main"}).out);
  Json remotes = Json::Parse(MustRun(t.b, {"branch", "-r", "--json"}).out);
  REQUIRE(remotes.items.size() == 2);
  CHECK(remotes[0]["name"].str == "origin/feature");
  CHECK_FALSE(Json::Parse(MustRun(t.b, {"branch", "--json"}).out)[0].has("remote"));
  MustRun(t.b, {"branch", "-d", "other"});
  MustRun(t.b, {"branch", "other", "HEAD"});
  MustRun(t.b, {"switch", "other"});
  CommandResult pull = RunVrepo(t.b, {"pull"});
  CHECK(pull.exit_code == 1);  // deleting 'other' forgot its upstream: no origin/other
}

TEST_CASE("pull --json: the fetched refs, counts, and what happened to the branch") {
  Team t;
  MustRun(t.dir.path(), {"clone", t.hub, "b"});
  std::string b = t.dir / "b";
  std::string old_head = Lines(MustRun(b, {"rev-parse", "HEAD"}).out)[0];
  t.CommitIn(t.a, "x.txt", "from a\n");
  MustRun(t.a, {"push"});
  std::string new_head = Lines(MustRun(t.a, {"rev-parse", "HEAD"}).out)[0];
  CommandResult pull = RunVrepo(b, {"pull", "--json"});
  CHECK(pull.exit_code == 0);
  CHECK(pull.err == "");
  Json j = Json::Parse(pull.out);
  CHECK(j["status"].str == "fast-forwarded");
  CHECK(j["branch"].str == "main");
  CHECK(j["upstream"].str == "origin/main");
  CHECK(j["old_commit"].str == old_head);
  CHECK(j["commit"].str == new_head);
  CHECK(j["commits"].number == 1);
  CHECK(j["objects"].number == 1);
  CHECK(j["object_bytes"].number > 0);
  REQUIRE(j["refs"].items.size() == 1);
  CHECK(j["refs"][0]["name"].str == "refs/remotes/origin/main");
  CHECK(j["refs"][0]["old"].str == old_head);
  CHECK(j["refs"][0]["new"].str == new_head);
  CHECK(j["refs"][0]["status"].str == "updated");
  CHECK(ReadFileOrDie(b + "/x.txt") == "from a\n");

  Json same = Json::Parse(MustRun(b, {"pull", "--json"}).out);
  CHECK(same["status"].str == "up to date");
  CHECK(same["commit"].str == new_head);
  CHECK(same["refs"][0]["status"].str == "up to date");

  t.CommitIn(t.a, "x.txt", "a again\n");
  MustRun(t.a, {"push"});
  t.CommitIn(b, "y.txt", "from b\n");
  CommandResult diverged = RunVrepo(b, {"pull", "--json"});
  CHECK(diverged.exit_code == 1);
  CHECK(Json::Parse(diverged.out)["status"].str == "diverged");

  Json fetch = Json::Parse(MustRun(b, {"fetch", "--json"}).out);
  CHECK(fetch["refs"][0]["status"].str == "up to date");
  CHECK(fetch.has("objects"));
  CHECK(fetch.has("object_bytes"));
}

}  // namespace
}  // namespace vrepo::testing
