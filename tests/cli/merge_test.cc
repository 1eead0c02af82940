// vrepo merge end to end: exit codes, the CONFLICT lines, status during a merge, --abort,
// --json, commit after resolution, fast-forward and up to date.
#include "cli/cli_support.h"

namespace vrepo::testing {
namespace {

constexpr const char* kTable =
    "path,label\n"
    "images/a.png,coat\n"
    "images/b.png,bag\n"
    "images/c.png,boot\n";

void Commit(const std::string& repo, const std::string& message) {
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-q", "-m", message});
}

// main and alice both relabel images/a.png (coat -> coat2 / shirt); alice also relabels
// images/c.png, which merges cleanly.
void TwoAnnotators(const std::string& repo) {
  MustRun(repo, {"init"});
  WriteFile(repo + "/labels.csv", kTable);
  for (const char* n : {"a", "b", "c"}) {
    WriteFile(repo + "/images/" + n + ".png", RandomBytes(100, n[0]));
  }
  Commit(repo, "base");
  MustRun(repo, {"switch", "-c", "alice"});
  WriteFile(repo + "/labels.csv",
            "path,label\nimages/a.png,shirt\nimages/b.png,bag\n"
            "images/c.png,sandal\n");
  Commit(repo, "alice");
  MustRun(repo, {"switch", "main"});
  WriteFile(repo + "/labels.csv",
            "path,label\nimages/a.png,dress\nimages/b.png,bag\n"
            "images/c.png,boot\n");
  Commit(repo, "bob");
}

}  // namespace

TEST_CASE("cli: merge stops on a label conflict with exit 1 and --abort restores the tree") {
  TempDir t;
  TwoAnnotators(t.path());
  Snapshot before = TakeSnapshot(t.path());
  std::string bob = RevParse(t.path(), "HEAD");

  CommandResult r = RunVrepo(t.path(), {"merge", "alice"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("CONFLICT (label): images/a.png: ours 'dress' vs theirs 'shirt' in "
                   "labels.csv\n") != std::string::npos);
  CHECK(r.out.find("Automatic merge failed") != std::string::npos);
  CHECK(ReadFileOrDie(t / "labels.csv") ==
        "path,label\nimages/a.png,dress\nimages/b.png,bag\nimages/c.png,sandal\n");
  CHECK(RevParse(t.path(), "HEAD") == bob);

  CommandResult st = MustRun(t.path(), {"status"});
  CHECK(st.out.find("You have unmerged paths") != std::string::npos);
  CHECK(st.out.find("\tboth modified:   labels.csv\n") != std::string::npos);
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "UU labels.csv\n");
  CHECK(MustRun(t.path(), {"status", "--json"}).out.find("\"unmerged\":[\"labels.csv\"]") !=
        std::string::npos);

  CommandResult early = RunVrepo(t.path(), {"commit", "-m", "too early"});
  CHECK(early.exit_code == 1);
  CHECK(early.err.find("labels.csv") != std::string::npos);
  CHECK(RunVrepo(t.path(), {"merge", "alice"}).exit_code == 1);  // already merging

  MustRun(t.path(), {"merge", "--abort"});
  CHECK(SnapshotDiff(before, TakeSnapshot(t.path())) == "");
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "");
  CHECK(RevParse(t.path(), "HEAD") == bob);
  CHECK(RunVrepo(t.path(), {"merge", "--abort"}).exit_code == 128);
}

TEST_CASE("cli: an image moved to two class folders is a label conflict, like a CSV row's") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "photos/coat/x.png", RandomBytes(100, 'x'));
  WriteFile(t / "photos/bag/y.png", RandomBytes(100, 'y'));
  Commit(t.path(), "base");
  MustRun(t.path(), {"switch", "-c", "alice"});
  MustRun(t.path(), {"mv", "photos/coat/x.png", "photos/shirt/x.png"});
  Commit(t.path(), "alice");
  MustRun(t.path(), {"switch", "main"});
  MustRun(t.path(), {"mv", "photos/coat/x.png", "photos/dress/x.png"});
  Commit(t.path(), "bob");

  CommandResult r = RunVrepo(t.path(), {"merge", "alice"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("CONFLICT (label): photos/coat/x.png: ours 'dress' vs theirs 'shirt' in "
                   "photos\n") != std::string::npos);
  CHECK(Exists(t / "photos/dress/x.png"));
  CHECK_FALSE(Exists(t / "photos/shirt/x.png"));
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out.find("UU photos\n") != std::string::npos);
  CHECK(RunVrepo(t.path(), {"commit", "-m", "too early"}).exit_code == 1);
  MustRun(t.path(), {"add", "photos"});
  MustRun(t.path(), {"commit", "-m", "keep dress"});
  CHECK(MustRun(t.path(), {"ls-tree", "HEAD"}).out.find("shirt") == std::string::npos);
}

TEST_CASE("cli: merge --json lists conflicts and a resolved merge commits with two parents") {
  TempDir t;
  TwoAnnotators(t.path());
  std::string bob = RevParse(t.path(), "HEAD"), alice = RevParse(t.path(), "alice");
  CommandResult r = RunVrepo(t.path(), {"merge", "--json", "alice"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("\"outcome\":\"conflicts\"") != std::string::npos);
  CHECK(r.out.find("{\"conflict\":\"label\",\"path\":\"labels.csv\",\"key\":\"images/a.png\","
                   "\"ours\":\"dress\",\"theirs\":\"shirt\"") != std::string::npos);

  WriteFile(t / "labels.csv",
            "path,label\nimages/a.png,shirt\nimages/b.png,bag\n"
            "images/c.png,sandal\n");
  MustRun(t.path(), {"add", "labels.csv"});
  CHECK(MustRun(t.path(), {"status"}).out.find("All conflicts fixed but you are still merging") !=
        std::string::npos);
  MustRun(t.path(), {"commit", "-m", "merge alice"});
  CHECK(RevParse(t.path(), "HEAD^1") == bob);
  CHECK(RevParse(t.path(), "HEAD^2") == alice);
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "");
  CHECK(MustRun(t.path(), {"merge", "alice"}).out == "Already up to date.\n");
}

TEST_CASE("cli: merge fast-forwards and merges tables cleanly with exit 0") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "labels.csv", kTable);
  Commit(t.path(), "base");
  MustRun(t.path(), {"switch", "-c", "ahead"});
  WriteFile(t / "labels.csv",
            "path,label\nimages/a.png,shirt\nimages/b.png,bag\n"
            "images/c.png,boot\n");
  Commit(t.path(), "ahead");
  MustRun(t.path(), {"switch", "main"});
  CommandResult ff = MustRun(t.path(), {"merge", "ahead"});
  CHECK(ff.out.find("Fast-forward\n") != std::string::npos);
  CHECK(RevParse(t.path(), "HEAD") == RevParse(t.path(), "ahead"));

  // Different samples relabeled on each side: a clean merge commit.
  MustRun(t.path(), {"switch", "-c", "side"});
  WriteFile(t / "labels.csv",
            "path,label\nimages/a.png,shirt\nimages/b.png,purse\n"
            "images/c.png,boot\n");
  Commit(t.path(), "side");
  MustRun(t.path(), {"switch", "main"});
  WriteFile(t / "labels.csv",
            "path,label\nimages/a.png,shirt\nimages/b.png,bag\n"
            "images/c.png,sneaker\n");
  Commit(t.path(), "main");
  CommandResult m = MustRun(t.path(), {"merge", "side"});
  CHECK(m.out.find("Merged label table labels.csv by key\n") != std::string::npos);
  CHECK(ReadFileOrDie(t / "labels.csv") ==
        "path,label\nimages/a.png,shirt\nimages/b.png,purse\nimages/c.png,sneaker\n");
  CHECK(RevParse(t.path(), "HEAD^2") == RevParse(t.path(), "side"));
  CHECK(MustRun(t.path(), {"log", "--oneline", "-n", "1"}).out.find("Merge branch 'side'") !=
        std::string::npos);

  CHECK(RunVrepo(t.path(), {"merge"}).exit_code == 129);
  CommandResult help = MustRun(t.path(), {"merge", "--help"});
  CHECK(help.out.find("--abort") != std::string::npos);
  CHECK(help.out.find("--label-column") != std::string::npos);
}

}  // namespace vrepo::testing
