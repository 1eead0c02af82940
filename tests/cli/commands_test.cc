// The output formats of log, show, diff, branch, tag, switch, checkout, ls-tree, rev-parse,
// mv, rm, restore, commit and gc, human and --json.
#include <regex>

#include "cli/cli_support.h"
#include "vrepo/store/content_id.h"

namespace vrepo::testing {
namespace {

// Two commits: "first" with a.txt, b.txt; "second" modifies b.txt and adds c/new.bin.
void TwoCommits(const std::string& repo) {
  MustRun(repo, {"init"});
  WriteFile(repo + "/a.txt", "aaaa");
  WriteFile(repo + "/b.txt", "bb");
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "first"});
  WriteFile(repo + "/b.txt", "bbb");
  WriteFile(repo + "/c/new.bin", "12345", /*executable=*/true);
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "second", "-m", "with a body"});
}

}  // namespace

TEST_CASE("cli: log in git's formats, --oneline, -n and --json") {
  TempDir t;
  TwoCommits(t.path());
  std::string head = RevParse(t.path(), "HEAD"), parent = RevParse(t.path(), "HEAD~1");
  CHECK(head.size() == 40);
  CHECK(MustRun(t.path(), {"rev-parse", "HEAD"}).out == head + "\n");
  CHECK(MustRun(t.path(), {"rev-parse", "--short", "HEAD"}).out == head.substr(0, 7) + "\n");
  CHECK(MustRun(t.path(), {"log", "--oneline"}).out ==
        head.substr(0, 7) + " second\n" + parent.substr(0, 7) + " first\n");
  CHECK(MustRun(t.path(), {"log", "--oneline", "-n", "1"}).out == head.substr(0, 7) + " second\n");
  CHECK(MustRun(t.path(), {"log", "--oneline", "HEAD~1"}).out == parent.substr(0, 7) + " first\n");

  std::string full = MustRun(t.path(), {"log", "-n", "1"}).out;
  INFO(full);
  std::regex header(
      "commit [0-9a-f]{40}\nAuthor: .* <.*>\nDate:   \\w{3} \\w{3} \\d{1,2} \\d\\d:\\d\\d:\\d\\d "
      "\\d{4} [+-]\\d{4}\n\n    second\n    \n    with a body\n");
  CHECK(std::regex_match(full, header));

  Json j = Json::Parse(MustRun(t.path(), {"log", "--json"}).out);
  REQUIRE(j.items.size() == 2);
  CHECK(j[0]["commit"].str == head);
  CHECK(j[0]["parents"][0].str == parent);
  CHECK(j[0]["message"].str.rfind("second\n\nwith a body", 0) == 0);
  CHECK(j[1]["parents"].items.empty());
  CHECK(j[0]["time"].number > 1.6e9);
  CHECK(j[0]["tree"].str.size() == 40);
}

TEST_CASE("cli: show prints the commit and its changed files with sizes") {
  TempDir t;
  TwoCommits(t.path());
  std::string out = MustRun(t.path(), {"show"}).out;
  INFO(out);
  CHECK(out.rfind("commit " + RevParse(t.path(), "HEAD") + "\n", 0) == 0);
  CHECK(out.find("\n\nM\tb.txt\t2 -> 3 bytes\nA\tc/new.bin\t5 bytes\n") != std::string::npos);
  std::string root = MustRun(t.path(), {"show", "HEAD~1"}).out;
  CHECK(root.find("A\ta.txt\t4 bytes\nA\tb.txt\t2 bytes\n") != std::string::npos);

  Json j = Json::Parse(MustRun(t.path(), {"show", "--json", "HEAD"}).out);
  CHECK(j["commit"].str == RevParse(t.path(), "HEAD"));
  CHECK(j["parents"][0].str == RevParse(t.path(), "HEAD~1"));
  REQUIRE(j["changes"].items.size() == 2);
  CHECK(j["changes"][0]["path"].str == "b.txt");
  CHECK(j["changes"][0]["status"].str == "M");
  CHECK(j["changes"][0]["old_size"].number == 2);
  CHECK(j["changes"][0]["new_size"].number == 3);
  CHECK(j["changes"][1]["old_id"].is_null());
  CHECK(j["changes"][1]["new_id"].str == ContentId::Of("12345").Hex());
}

TEST_CASE("cli: diff between revisions, against the working tree, --stat and --json") {
  TempDir t;
  TwoCommits(t.path());
  CHECK(MustRun(t.path(), {"diff", "HEAD~1", "HEAD"}).out ==
        "M\tb.txt\t2 -> 3 bytes\nA\tc/new.bin\t5 bytes\n");
  CHECK(MustRun(t.path(), {"diff", "HEAD", "HEAD~1"}).out ==
        "M\tb.txt\t3 -> 2 bytes\nD\tc/new.bin\t5 bytes\n");
  CHECK(MustRun(t.path(), {"diff", "HEAD~1", "HEAD", "--stat"}).out ==
        " b.txt     | 2 -> 3 bytes\n"
        " c/new.bin | 5 bytes (new)\n"
        " 2 files changed, 1 added, 1 modified, 2 -> 8 bytes\n");
  CHECK(MustRun(t.path(), {"diff"}).out == "");
  CHECK(RunVrepo(t.path(), {"diff", "--exit-code"}).exit_code == 0);

  WriteFile(t / "a.txt", "changed!");
  CHECK(MustRun(t.path(), {"diff"}).out == "M\ta.txt\t4 -> 8 bytes\n");
  CHECK(MustRun(t.path(), {"diff", "HEAD~1"}).out ==
        "M\ta.txt\t4 -> 8 bytes\nM\tb.txt\t2 -> 3 bytes\nA\tc/new.bin\t5 bytes\n");
  CHECK(RunVrepo(t.path(), {"diff", "--exit-code"}).exit_code == 1);
  Json j = Json::Parse(MustRun(t.path(), {"diff", "--json"}).out);
  REQUIRE(j.items.size() == 1);
  CHECK(j[0]["path"].str == "a.txt");
  CHECK(j[0]["old_id"].str == ContentId::Of("aaaa").Hex());
  CHECK(j[0]["new_id"].str == ContentId::Of("changed!").Hex());
}

TEST_CASE("cli: ls-tree lists mode, content id, size and path recursively") {
  TempDir t;
  TwoCommits(t.path());
  CHECK(MustRun(t.path(), {"ls-tree", "HEAD"}).out ==
        "100644 blob " + ContentId::Of("aaaa").Hex() + " 4\ta.txt\n" + "100644 blob " +
            ContentId::Of("bbb").Hex() + " 3\tb.txt\n" + "100755 blob " +
            ContentId::Of("12345").Hex() + " 5\tc/new.bin\n");
  CHECK(MustRun(t.path(), {"ls-tree"}).out == MustRun(t.path(), {"ls-tree", "HEAD"}).out);
  Json j = Json::Parse(MustRun(t.path(), {"ls-tree", "--json", "HEAD~1"}).out);
  REQUIRE(j.items.size() == 2);
  CHECK(j[1]["path"].str == "b.txt");
  CHECK(j[1]["size"].number == 2);
  CHECK(j[1]["mode"].str == "100644");
  CHECK(j[1]["id"].str == ContentId::Of("bb").Hex());
}

TEST_CASE("cli: branch, switch and checkout move HEAD like git") {
  TempDir t;
  TwoCommits(t.path());
  std::string head = RevParse(t.path(), "HEAD"), parent = RevParse(t.path(), "HEAD~1");
  CHECK(MustRun(t.path(), {"branch"}).out == "* main\n");
  MustRun(t.path(), {"branch", "old", "HEAD~1"});
  MustRun(t.path(), {"branch", "dev"});
  CHECK(MustRun(t.path(), {"branch"}).out == "  dev\n* main\n  old\n");
  Json j = Json::Parse(MustRun(t.path(), {"branch", "--json"}).out);
  REQUIRE(j.items.size() == 3);
  CHECK(j[2]["name"].str == "old");
  CHECK(j[2]["commit"].str == parent);
  CHECK(j[1]["current"].b);
  CHECK(RunVrepo(t.path(), {"branch", "dev"}).exit_code == 128);  // exists

  CommandResult sw = MustRun(t.path(), {"switch", "old"});
  CHECK(sw.err == "Switched to branch 'old'\n");
  CHECK(!Exists(t / "c/new.bin"));
  CHECK(ReadFileOrDie(t / "b.txt") == "bb");
  CHECK(MustRun(t.path(), {"status"}).out.rfind("On branch old\n", 0) == 0);
  CHECK(MustRun(t.path(), {"switch", "-c", "feature"}).err ==
        "Switched to a new branch 'feature'\n");
  CHECK(RevParse(t.path(), "feature") == parent);

  CommandResult co = MustRun(t.path(), {"checkout", head});
  CHECK(co.err == "HEAD is now at " + head.substr(0, 7) + " second\n");
  CHECK(
      MustRun(t.path(), {"status"}).out.rfind("HEAD detached at " + head.substr(0, 7) + "\n", 0) ==
      0);
  CHECK(MustRun(t.path(), {"branch"})
            .out.rfind("* (HEAD detached at " + head.substr(0, 7) + ")\n", 0) == 0);
  CHECK(ReadFileOrDie(t / "c/new.bin") == "12345");

  // A commit on a detached HEAD says so.
  WriteFile(t / "d.txt", "d");
  MustRun(t.path(), {"add", "d.txt"});
  CHECK(MustRun(t.path(), {"commit", "-m", "detached work"}).out.rfind("[detached HEAD ", 0) == 0);

  CHECK(MustRun(t.path(), {"checkout", "main"}).err == "Switched to branch 'main'\n");
  CHECK(MustRun(t.path(), {"branch", "-d", "dev"}).out ==
        "Deleted branch dev (was " + head.substr(0, 7) + ").\n");
  CommandResult current = RunVrepo(t.path(), {"branch", "-d", "main"});
  CHECK(current.exit_code != 0);
  CHECK(Lines(current.err).size() == 1);
  CHECK(MustRun(t.path(), {"branch"}).out == "  feature\n* main\n  old\n");
}

TEST_CASE("cli: tags list, resolve and delete") {
  TempDir t;
  TwoCommits(t.path());
  std::string parent = RevParse(t.path(), "HEAD~1");
  CHECK(MustRun(t.path(), {"tag"}).out == "");
  MustRun(t.path(), {"tag", "v1", "HEAD~1"});
  MustRun(t.path(), {"tag", "-m", "release two", "v2"});
  CHECK(MustRun(t.path(), {"tag"}).out == "v1\nv2\n");
  CHECK(RevParse(t.path(), "v1") == parent);
  CHECK(RevParse(t.path(), "v2") == RevParse(t.path(), "HEAD"));
  Json j = Json::Parse(MustRun(t.path(), {"tag", "--json"}).out);
  REQUIRE(j.items.size() == 2);
  CHECK(j[1]["name"].str == "v2");
  CHECK(j[1]["commit"].str == RevParse(t.path(), "HEAD"));
  MustRun(t.path(), {"checkout", "v1"});
  CHECK(ReadFileOrDie(t / "b.txt") == "bb");
  CHECK(MustRun(t.path(), {"tag", "-d", "v1"}).out ==
        "Deleted tag 'v1' (was " + parent.substr(0, 7) + ")\n");
  CHECK(MustRun(t.path(), {"tag"}).out == "v2\n");
}

TEST_CASE("cli: mv, rm and restore change the index and the working tree") {
  TempDir t;
  TwoCommits(t.path());
  MustRun(t.path(), {"mv", "a.txt", "moved/a.txt"});
  CHECK(!Exists(t / "a.txt"));
  CHECK(ReadFileOrDie(t / "moved/a.txt") == "aaaa");
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "D  a.txt\nA  moved/a.txt\n");

  MustRun(t.path(), {"rm", "--cached", "b.txt"});
  CHECK(Exists(t / "b.txt"));
  MustRun(t.path(), {"rm", "c/new.bin"});
  CHECK(!Exists(t / "c/new.bin"));
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out ==
        "D  a.txt\nD  b.txt\nD  c/new.bin\nA  moved/a.txt\n?? b.txt\n");

  WriteFile(t / "moved/a.txt", "edited");
  MustRun(t.path(), {"restore", "moved/a.txt"});
  CHECK(ReadFileOrDie(t / "moved/a.txt") == "aaaa");
  MustRun(t.path(), {"restore", "--source", "HEAD", "c"});
  CHECK(ReadFileOrDie(t / "c/new.bin") == "12345");
  MustRun(t.path(), {"restore", "--source", "HEAD~1", "b.txt"});
  CHECK(ReadFileOrDie(t / "b.txt") == "bb");
  CHECK(MustRun(t.path(), {"status", "--porcelain"}).out == "D  a.txt\nM  b.txt\nA  moved/a.txt\n");

  // rm refuses to lose uncommitted work.
  WriteFile(t / "moved/a.txt", "precious");
  CommandResult r = RunVrepo(t.path(), {"rm", "moved/a.txt"});
  CHECK(r.exit_code != 0);
  CHECK(Lines(r.err).size() == 1);
  CHECK(ReadFileOrDie(t / "moved/a.txt") == "precious");
}

TEST_CASE("cli: commit with nothing staged exits 1, --allow-empty commits anyway") {
  TempDir t;
  TwoCommits(t.path());
  CommandResult r = RunVrepo(t.path(), {"commit", "-m", "again"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("nothing to commit") != std::string::npos);
  CHECK(Lines(r.err).size() == 1);
  CHECK(MustRun(t.path(), {"commit", "--allow-empty", "-m", "empty"}).out.rfind("[main ", 0) == 0);
  CHECK(MustRun(t.path(), {"log", "--oneline", "-n", "1"}).out.substr(8) == "empty\n");
}

TEST_CASE("cli: gc drops what no ref reaches and says how much") {
  TempDir t;
  TwoCommits(t.path());
  MustRun(t.path(), {"switch", "-c", "tmp"});
  WriteFile(t / "garbage.bin", RandomBytes(200000, 9));
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "soon unreachable"});
  MustRun(t.path(), {"switch", "main"});
  MustRun(t.path(), {"branch", "-d", "tmp"});
  std::string out = MustRun(t.path(), {"gc"}).out;
  std::smatch m;
  REQUIRE(std::regex_match(
      out, m,
      std::regex(
          "removed (\\d+) objects?, reclaimed ([0-9.]+) KiB \\((\\d+) packs? rewritten\\)\n")));
  CHECK(std::stoull(m[1]) >= 1);
  CHECK(std::stod(m[2]) >= 195);
  MustRun(t.path(), {"fsck"});
  CHECK(MustRun(t.path(), {"gc"}).out ==
        "removed 0 objects, reclaimed 0 bytes (1 pack rewritten)\n");
  MustRun(t.path(), {"checkout", "HEAD~1"});
  CHECK(ReadFileOrDie(t / "b.txt") == "bb");
}

TEST_CASE("cli: gc reports the bytes it reclaims even when no object goes") {
  TempDir t;
  TwoCommits(t.path());
  MustRun(t.path(), {"gc"});
  // What an interrupted write leaves: bytes at the end of a pack that no index entry names.
  std::vector<std::string> packs = ListFolder(t / ".vrepo/objects/packs");
  REQUIRE(packs.size() == 1);
  WriteFile(packs[0], ReadFileOrDie(packs[0]) + RandomBytes(3000, 4));
  Json j = Json::Parse(MustRun(t.path(), {"gc", "--json"}).out);
  CHECK(j["objects"].number == 0);
  CHECK(j["bytes"].number == 3000);
  CHECK(j["packs"].number == 1);
  CHECK(j["bytes_before"].number - j["bytes_after"].number == 3000);
  MustRun(t.path(), {"fsck"});
}

TEST_CASE("cli: add and commit --json say what they staged and recorded") {
  TempDir t;
  MustRun(t.path(), {"init"});
  WriteFile(t / "a.png", "aaaa");
  WriteFile(t / "b/c.png", "cc");
  Json added = Json::Parse(MustRun(t.path(), {"add", "--json", "."}).out);
  CHECK(added["files_staged"].number == 2);
  CHECK(added["files_removed"].number == 0);
  CHECK(added["bytes"].number == 6);
  Json first = Json::Parse(MustRun(t.path(), {"commit", "--json", "-m", "one"}).out);
  CHECK(first["commit"].str == MustRun(t.path(), {"rev-parse", "HEAD"}).out.substr(0, 40));
  CHECK(first["branch"].str == "main");
  CHECK(first["files_changed"].number == 2);

  std::filesystem::remove(t / "a.png");
  WriteFile(t / "d.png", "d");
  Json again = Json::Parse(MustRun(t.path(), {"add", "--json", "."}).out);
  CHECK(again["files_staged"].number == 1);
  CHECK(again["files_removed"].number == 1);
  MustRun(t.path(), {"checkout", "--force", first["commit"].str});
  WriteFile(t / "d.png", "d");
  MustRun(t.path(), {"add", "d.png"});
  Json detached = Json::Parse(MustRun(t.path(), {"commit", "--json", "-m", "two"}).out);
  CHECK(detached["branch"].is_null());
  CHECK(detached["files_changed"].number == 1);
}

TEST_CASE("cli: fsck --json reports a clean repository") {
  TempDir t;
  TwoCommits(t.path());
  CommandResult r = MustRun(t.path(), {"fsck"});
  CHECK(r.out == "");
  Json j = Json::Parse(MustRun(t.path(), {"fsck", "--json"}).out);
  CHECK(j["problems"].items.empty());
  CHECK(j["objects_checked"].number >= 4);
}

}  // namespace vrepo::testing
