// Reading history as a git user does: show REV:PATH, show of a training run, log --graph,
// log --all, and log and diff limited to paths after "--".
#include <cstdlib>

#include "cli/cli_support.h"

namespace vrepo::testing {
namespace {

// Commits with dates one minute apart, so the log's order does not depend on the clock.
void CommitAt(const std::string& repo, int minute, const std::string& message) {
  const std::string date = std::to_string(1700000000 + minute * 60) + " +0000";
  ::setenv("GIT_AUTHOR_DATE", date.c_str(), 1);
  ::setenv("GIT_COMMITTER_DATE", date.c_str(), 1);
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", message});
  ::unsetenv("GIT_AUTHOR_DATE");
  ::unsetenv("GIT_COMMITTER_DATE");
}

// A commit reachable only from ref `ref` (a run, a tag, a remote-tracking branch): made on a
// scratch branch that is then deleted. Its tree holds `files` alone.
std::string CommitOnlyUnder(const std::string& repo, const std::string& ref,
                            const std::map<std::string, std::string>& files) {
  MustRun(repo, {"switch", "-c", "scratch"});
  MustRun(repo, {"rm", "-r", "--cached", "."});
  for (const auto& [path, data] : files) WriteFile(repo + "/" + path, data);
  for (const auto& [path, data] : files) MustRun(repo, {"add", path});
  MustRun(repo, {"commit", "-m", "only under " + ref});
  std::string id = RevParse(repo, "HEAD");
  MustRun(repo, {"switch", "--force", "main"});
  MustRun(repo, {"branch", "-d", "scratch"});
  Shell("git --git-dir " + repo + "/.vrepo/meta update-ref " + ref + " " + id);
  return id;
}

}  // namespace

TEST_CASE("cli: show REV:PATH prints the file's bytes at REV exactly") {
  TempDir t;
  MustRun(t.path(), {"init"});
  const std::string v1 = std::string("\x89PNG\r\n\x1a\n\0\0 binary\n", 19) + RandomBytes(5000, 1);
  WriteFile(t / "img/cat.png", v1);
  CommitAt(t.path(), 0, "v1");
  WriteFile(t / "img/cat.png", "v2");
  CommitAt(t.path(), 1, "v2");

  CHECK(MustRun(t.path(), {"show", "HEAD~1:img/cat.png"}).out == v1);
  CHECK(MustRun(t.path(), {"show", "main:img/cat.png"}).out == "v2");
  CHECK(MustRun(t / "img", {"show", "HEAD~1:./cat.png"}).out == v1);  // ./ is from here

  CommandResult missing = RunVrepo(t.path(), {"show", "HEAD~1:img/dog.png"});
  CHECK(missing.exit_code == 128);
  CHECK(missing.err == "vrepo: show: path 'img/dog.png' does not exist in 'HEAD~1'\n");
  CommandResult folder = RunVrepo(t.path(), {"show", "HEAD:img"});
  CHECK(folder.exit_code == 128);
  CHECK(folder.err.find("path 'img' is a folder in 'HEAD'") != std::string::npos);
  CHECK(RunVrepo(t.path(), {"show", "nosuch:img/cat.png"}).exit_code == 128);
}

TEST_CASE("cli: show of a training run lists the run's own files, not the dataset as deleted") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "images/a.png", "a");
  WriteFile(t / "images/b.png", "b");
  WriteFile(t / "labels.csv", "path,label\nimages/a.png,x\nimages/b.png,y\n");
  CommitAt(t.path(), 0, "dataset");
  const std::string dataset = RevParse(t.path(), "HEAD");
  // The shape run_record.cc writes: a commit under refs/runs/ whose tree holds only the
  // run's files and whose first parent is the dataset commit.
  const std::string run = CommitOnlyUnder(
      t.path(), "refs/runs/demo",
      {{"run.json", "{}\n"}, {"model.safetensors", "weights"}, {"plots/loss.png", "png"}});
  REQUIRE(MustRun(t.path(), {"log", "--oneline", "-n", "1", run}).out.size() > 0);
  Json shown = Json::Parse(MustRun(t.path(), {"show", "--json", run}).out);
  CHECK(shown["parents"][0].str == dataset);
  std::vector<std::string> changes;
  for (const Json& c : shown["changes"].items) changes.push_back(c["status"].str + c["path"].str);
  CHECK(changes == std::vector<std::string>{"Amodel.safetensors", "Aplots/loss.png", "Arun.json"});
  std::string out = MustRun(t.path(), {"show", "refs/runs/demo"}).out;
  CHECK(out.find("\nA\trun.json\t3 bytes\n") != std::string::npos);
  CHECK(out.find("D\t") == std::string::npos);
  // An ordinary commit still shows what it changed against its parent.
  CHECK(MustRun(t.path(), {"show", dataset}).out.find("A\tlabels.csv") != std::string::npos);
}

TEST_CASE("cli: log --graph draws a merge as git does") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "base.txt", "base");
  CommitAt(t.path(), 0, "base");
  MustRun(t.path(), {"branch", "side"});
  WriteFile(t / "main.txt", "main");
  CommitAt(t.path(), 1, "on main");
  MustRun(t.path(), {"switch", "side"});
  WriteFile(t / "side.txt", "side");
  CommitAt(t.path(), 2, "on side");
  MustRun(t.path(), {"switch", "main"});
  ::setenv("GIT_COMMITTER_DATE", "1700000180 +0000", 1);
  ::setenv("GIT_AUTHOR_DATE", "1700000180 +0000", 1);
  MustRun(t.path(), {"merge", "side"});
  ::unsetenv("GIT_AUTHOR_DATE");
  ::unsetenv("GIT_COMMITTER_DATE");

  auto id = [&](const std::string& rev) { return RevParse(t.path(), rev).substr(0, 7); };
  std::vector<std::string> got = Lines(MustRun(t.path(), {"log", "--graph", "--oneline"}).out);
  REQUIRE(got.size() == 6);
  CHECK(got[0].rfind("* " + id("HEAD") + " ", 0) == 0);
  CHECK(got[1] == "|\\");
  CHECK(got[2] == "| * " + id("side") + " on side");
  CHECK(got[3] == "* | " + id("HEAD~1") + " on main");
  CHECK(got[4] == "|/");
  CHECK(got[5] == "* " + id("HEAD~2") + " base");

  // The long form keeps the graph's columns beside every line of a commit.
  std::vector<std::string> full = Lines(MustRun(t.path(), {"log", "--graph"}).out);
  CHECK(full[0] == "* commit " + RevParse(t.path(), "HEAD"));
  CHECK(full[1] == "|\\");
  CHECK(full[2].rfind("| | Merge: ", 0) == 0);
  CHECK(full.back() == "      base");
}

TEST_CASE("cli: log --all starts from every branch, tag and remote-tracking branch, not runs") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "a.txt", "a");
  CommitAt(t.path(), 0, "base");
  MustRun(t.path(), {"switch", "-c", "side"});
  WriteFile(t / "s.txt", "s");
  CommitAt(t.path(), 1, "on side");
  MustRun(t.path(), {"switch", "main"});
  const std::string tagged = CommitOnlyUnder(t.path(), "refs/tags/v1", {{"t.txt", "t"}});
  const std::string tracking =
      CommitOnlyUnder(t.path(), "refs/remotes/origin/feature", {{"f.txt", "f"}});
  const std::string run = CommitOnlyUnder(t.path(), "refs/runs/r1", {{"run.json", "{}"}});

  std::string head_only = MustRun(t.path(), {"log", "--oneline"}).out;
  CHECK(Lines(head_only).size() == 1);
  std::string all = MustRun(t.path(), {"log", "--all", "--oneline"}).out;
  CHECK(Lines(all).size() == 4);
  CHECK(all.find(RevParse(t.path(), "side").substr(0, 7) + " on side") != std::string::npos);
  CHECK(all.find(tagged.substr(0, 7)) != std::string::npos);
  CHECK(all.find(tracking.substr(0, 7)) != std::string::npos);
  CHECK(all.find(run.substr(0, 7)) == std::string::npos);
}

TEST_CASE("cli: log and diff after -- are limited to paths, files or folders") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "a/x.png", "x1");
  WriteFile(t / "b/y.png", "y1");
  CommitAt(t.path(), 0, "c1");
  WriteFile(t / "b/y.png", "y2");
  CommitAt(t.path(), 1, "c2");
  WriteFile(t / "a/x.png", "x2");
  CommitAt(t.path(), 2, "c3");
  auto subjects = [&](const std::vector<std::string>& args) {
    std::vector<std::string> out;
    for (const auto& l : Lines(MustRun(t.path(), args).out)) out.push_back(l.substr(8));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(subjects({"log", "--oneline", "--", "a"}) == V{"c3", "c1"});
  CHECK(subjects({"log", "--oneline", "--", "b/y.png"}) == V{"c2", "c1"});
  CHECK(subjects({"log", "--oneline", "HEAD~1", "--", "a/"}) == V{"c1"});
  CHECK(subjects({"log", "--oneline", "-n", "1", "--", "b"}) == V{"c2"});
  CHECK(subjects({"log", "--oneline", "--", "a", "b"}) == V{"c3", "c2", "c1"});
  CHECK(subjects({"log", "--oneline", "--", "nothing/here"}).empty());
  CHECK(MustRun(t / "a", {"log", "--oneline", "--", "."}).out.find(" c2\n") == std::string::npos);

  CHECK(MustRun(t.path(), {"diff", "HEAD~2", "HEAD", "--", "a"}).out ==
        "M\ta/x.png\t2 -> 2 bytes\n");
  CHECK(MustRun(t.path(), {"diff", "HEAD~2", "--", "b"}).out == "M\tb/y.png\t2 -> 2 bytes\n");
  WriteFile(t / "a/x.png", "x3!");
  WriteFile(t / "b/y.png", "y3!");
  CHECK(MustRun(t.path(), {"diff", "--", "b/y.png"}).out == "M\tb/y.png\t2 -> 3 bytes\n");
  CHECK(Lines(MustRun(t.path(), {"diff"}).out).size() == 2);
  CHECK(RunVrepo(t.path(), {"log", "--graph", "--", "a"}).exit_code == 129);
}

}  // namespace vrepo::testing
