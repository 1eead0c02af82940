// vrepo dataset check|stats|split|diff and diff --labels, end to end on real Fashion-MNIST PNGs.
#include "cli/cli_support.h"
#include "dataset/dataset_fixture.h"
#include "dataset/png_support.h"

namespace vrepo::testing {
namespace {

// A repository with 30 exported images and labels.csv committed as "v1".
void ImportThirty(const std::string& repo) {
  MustRun(repo, {"init"});
  ExportFashionMnist(repo, 30);
  MustRun(repo, {"add", "."});
  MustRun(repo, {"commit", "-m", "v1"});
}

TEST_CASE("cli: dataset check exits 0 on a clean table and 1 with file:line problems") {
  TempDir t;
  ImportThirty(t.path());
  CommandResult ok = MustRun(t.path(), {"dataset", "check", "--labels", "labels.csv"});
  CHECK(ok.out.find("labels.csv at ") == 0);
  CHECK(ok.out.find(": 30 rows, 30 images decoded, 0 problems\n") != std::string::npos);

  std::string table = ReadFileOrDie(t / "labels.csv");
  WriteFile(t / "labels.csv", table + "images/train/missing.png,coat\nimages/train/00002.png,\n");
  WriteFile(t / "broken.png", "\x89PNG\r\n\x1a\n garbage");
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "v2"});
  WriteFile(t / "extra.csv", "path,label\nbroken.png,bag\n");
  MustRun(t.path(), {"add", "extra.csv"});
  MustRun(t.path(), {"commit", "-m", "v3"});

  CommandResult bad = RunVrepo(t.path(), {"dataset", "check", "--labels", "labels.csv"});
  CHECK(bad.exit_code == 1);
  std::vector<std::string> lines = Lines(bad.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "labels.csv:32: images/train/missing.png: missing: no such file in commit " +
                        MustRun(t.path(), {"rev-parse", "--short", "HEAD"}).out.substr(0, 7));
  CHECK(lines[1] ==
        "labels.csv:33: images/train/00002.png: duplicate-path: path already listed "
        "on line 4");
  CHECK(lines[2].find("2 problems") != std::string::npos);

  CommandResult img = RunVrepo(t.path(), {"dataset", "check", "--labels", "extra.csv", "--json"});
  CHECK(img.exit_code == 1);
  Json j = Json::Parse(img.out);
  CHECK_FALSE(j["ok"].b);
  REQUIRE(j["problems"].items.size() == 1);
  CHECK(j["problems"][0]["problem"].str == "bad-image");
  CHECK(j["problems"][0]["line"].number == 2);
  CHECK(j["problems"][0]["detail"].str.find("broken.png") != std::string::npos);

  // The first version is still clean: check reads the commit, not the working tree.
  MustRun(t.path(), {"dataset", "check", "HEAD~2", "--labels", "labels.csv"});
}

TEST_CASE("cli: dataset check, stats and diff quote names from a label table as git does") {
  TempDir t;
  ImportThirty(t.path());
  std::string table = ReadFileOrDie(t / "labels.csv");
  // A stranger's table: a path and a label that would clear the screen if printed raw.
  WriteFile(t / "labels.csv",
            table + "images/\x1b[2Jx.png,coat\nimages/train/00003.png,\x1b[31mred\n");
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "hostile"});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"dataset", "check", "--labels", "labels.csv"},
        std::vector<std::string>{"dataset", "stats", "--labels", "labels.csv"},
        std::vector<std::string>{"diff", "HEAD~1", "HEAD", "--labels", "labels.csv"}}) {
    CommandResult r = RunVrepo(t.path(), args);
    INFO(args[0] << " " << args[1] << ": " << r.out << r.err);
    CHECK(r.out.find('\x1b') == std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
  }
  CommandResult check = RunVrepo(t.path(), {"dataset", "check", "--labels", "labels.csv"});
  CHECK(check.out.find("\"images/\\033[2Jx.png\": missing") != std::string::npos);
}

TEST_CASE("cli: dataset stats prints counts and the sample digest, also as JSON") {
  TempDir t;
  ImportThirty(t.path());
  Json j =
      Json::Parse(MustRun(t.path(), {"dataset", "stats", "--labels", "labels.csv", "--json"}).out);
  CHECK(j["samples"].number == 30);
  CHECK(j["formats"]["png"].number == 30);
  REQUIRE(j["shapes"].items.size() == 1);
  CHECK(j["shapes"][0]["width"].number == 28);
  CHECK(j["shapes"][0]["channels"].number == 1);
  CHECK(j["shapes"][0]["samples"].number == 30);
  CHECK(j["sizes"]["max_height"].number == 28);
  CHECK(j["sample_digest"].str.size() == 64);
  double total = 0;
  for (const auto& [label, n] : j["labels"].fields) total += n.number;
  CHECK(total == 30);
  std::string text = MustRun(t.path(), {"dataset", "stats", "--labels", "labels.csv"}).out;
  CHECK(text.find("sample digest " + j["sample_digest"].str) != std::string::npos);
}

TEST_CASE(
    "cli: dataset split writes stable tables, ratios that are not numbers are usage errors, ones "
    "that do not sum to 1 invalid settings") {
  TempDir t;
  ImportThirty(t.path());
  MustRun(t.path(),
          {"dataset", "split", "--labels", "labels.csv", "--ratios", "0.8,0.2", "--seed", "5"});
  std::string train = ReadFileOrDie(t / "labels.train.csv");
  std::string val = ReadFileOrDie(t / "labels.val.csv");
  CHECK(Lines(train).size() + Lines(val).size() == 32);  // two headers + 30 rows
  CHECK(train.rfind("path,label\n", 0) == 0);
  MustRun(t.path(),
          {"dataset", "split", "--labels", "labels.csv", "--ratios", "0.8,0.2", "--seed", "5"});
  CHECK(ReadFileOrDie(t / "labels.train.csv") == train);

  CommandResult r =
      RunVrepo(t.path(), {"dataset", "split", "--labels", "labels.csv", "--ratios", "0.8,0.3"});
  CHECK(r.exit_code == 128);  // a number, but an invalid setting
  CHECK(r.err.find("ratios sum to") != std::string::npos);
  CHECK(RunVrepo(t.path(), {"dataset", "split", "--labels", "labels.csv", "--ratios", "x"})
            .exit_code == 129);
  CHECK(
      RunVrepo(t.path(), {"dataset", "split", "--labels", "nope.csv", "--ratios", "1"}).exit_code ==
      128);
}

TEST_CASE("cli: diff --labels lists relabeled samples and per-label counts") {
  TempDir t;
  ImportThirty(t.path());
  std::string table = ReadFileOrDie(t / "labels.csv");
  size_t at = table.find("images/train/00003.png,dress");
  REQUIRE(at != std::string::npos);
  table.replace(at, 28, "images/train/00003.png,coat");
  WriteFile(t / "labels.csv", table);
  MustRun(t.path(), {"add", "labels.csv"});
  MustRun(t.path(), {"commit", "-m", "relabel"});
  CommandResult d = MustRun(t.path(), {"diff", "HEAD~1", "HEAD", "--labels", "labels.csv"});
  std::vector<std::string> lines = Lines(d.out);
  REQUIRE(lines.size() >= 3);
  CHECK(lines[0] == "R\timages/train/00003.png\tdress -> coat");
  CHECK(lines[1] == "0 added, 0 removed, 1 relabeled, 0 image changed, 29 unchanged");
  Json j = Json::Parse(
      MustRun(t.path(), {"dataset", "diff", "HEAD~1", "--labels", "labels.csv", "--json"}).out);
  REQUIRE(j["changes"].items.size() == 1);
  CHECK(j["changes"][0]["status"].str == "relabeled");
  CHECK(j["changes"][0]["old_label"].str == "dress");
  CHECK(j["changes"][0]["new_label"].str == "coat");
  CHECK(j["labels"]["coat"]["relabeled_in"].number == 1);
  CHECK(j["from"]["sample_digest"].str != j["to"]["sample_digest"].str);
}

TEST_CASE("cli: diff --labels compares the sides plain diff compares") {
  TempDir t;
  ImportThirty(t.path());
  std::string table = ReadFileOrDie(t / "labels.csv");
  size_t at = table.find("images/train/00003.png,dress");
  REQUIRE(at != std::string::npos);
  WriteFile(t / "labels.csv", table.replace(at, 28, "images/train/00003.png,coat"));
  const std::string relabel = "R\timages/train/00003.png\tdress -> coat";
  const std::string none = "0 added, 0 removed, 0 relabeled, 0 image changed, 30 unchanged";
  auto first_line = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--labels", "labels.csv"});
    return Lines(MustRun(t.path(), args).out).at(0);
  };
  // No REV: the staging index against the working tree.
  CHECK(first_line({"diff"}) == relabel);
  Json j = Json::Parse(MustRun(t.path(), {"diff", "--labels", "labels.csv", "--json"}).out);
  CHECK(j["from"]["commit"].is_null());
  CHECK(j["from"]["files"].str == "staging index");
  CHECK(j["to"]["files"].str == "working tree");
  CHECK(j["changes"][0]["status"].str == "relabeled");
  MustRun(t.path(), {"add", "labels.csv"});
  CHECK(first_line({"diff"}) == none);
  // One REV: that commit against the working tree.
  CHECK(first_line({"diff", "HEAD"}) == relabel);
  MustRun(t.path(), {"commit", "-m", "relabel"});
  CHECK(first_line({"diff", "HEAD"}) == none);
  CHECK(first_line({"diff", "HEAD~1"}) == relabel);
  // Two: those commits; dataset diff's one REV still means REV against HEAD.
  CHECK(first_line({"diff", "HEAD~1", "HEAD"}) == relabel);
  // --exit-code counts sample changes, as plain diff counts file changes.
  CHECK(RunVrepo(t.path(), {"diff", "HEAD~1", "HEAD", "--labels", "labels.csv", "--exit-code"})
            .exit_code == 1);
  CHECK(RunVrepo(t.path(), {"diff", "HEAD", "--labels", "labels.csv", "--exit-code", "--json"})
            .exit_code == 0);
  CHECK(first_line({"diff", "HEAD", "HEAD~1"}) == "R\timages/train/00003.png\tcoat -> dress");
  CHECK(first_line({"dataset", "diff", "HEAD~1"}) == relabel);
}

TEST_CASE("cli: diff --labels FOLDER shows an image moved to another class folder as relabeled") {
  TempDir t;
  ImportThirty(t.path());
  WriteFile(t / "photos/coat/x.png", ReadFileOrDie(t / "images/train/00000.png"));
  WriteFile(t / "photos/bag/y.png", ReadFileOrDie(t / "images/train/00001.png"));
  MustRun(t.path(), {"add", "photos"});
  MustRun(t.path(), {"commit", "-m", "photos"});
  MustRun(t.path(), {"mv", "photos/coat/x.png", "photos/shirt/x.png"});
  std::vector<std::string> lines =
      Lines(MustRun(t.path(), {"diff", "HEAD", "--labels", "photos"}).out);
  REQUIRE(lines.size() >= 2);
  CHECK(lines[0] == "R\tphotos/shirt/x.png\tcoat -> shirt");
  CHECK(lines[1] == "0 added, 0 removed, 1 relabeled, 0 image changed, 1 unchanged");
  Json j = Json::Parse(MustRun(t.path(), {"diff", "HEAD", "--labels", "photos", "--json"}).out);
  CHECK(j["changes"][0]["old_path"].str == "photos/coat/x.png");
}

TEST_CASE("cli: dataset stats shows the 10 most common image sizes, the rest counted, and ranges") {
  TempDir t;
  MustRun(t.path(), {"init"});
  std::string table = "path,label\n";
  // Twelve sizes 3x4 .. 14x15, and 9x10 twice.
  for (uint32_t w = 3; w <= 15; ++w) {
    const uint32_t width = w == 15 ? 9 : w;
    std::vector<uint8_t> pixels(size_t{width} * (width + 1), static_cast<uint8_t>(w));
    const std::string name = "img" + std::to_string(w) + ".png";
    WriteFile(t / name, EncodePng({width, width + 1}, pixels.data(), pixels.size()));
    table += name + ",x\n";
  }
  WriteFile(t / "labels.csv", table);
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "sizes"});
  std::string out = MustRun(t.path(), {"dataset", "stats", "--labels", "labels.csv"}).out;
  CHECK(out.find("image sizes (width x height x channels), 12 distinct, most common first:\n"
                 "  9x10x1         2\n"
                 "  3x4x1          1\n") != std::string::npos);
  CHECK(out.find("  12x13x1        1\n  2 other sizes  2\n  width 3..14, height 4..15\n") !=
        std::string::npos);
  CHECK(out.find("13x14x1") == std::string::npos);
  Json j =
      Json::Parse(MustRun(t.path(), {"dataset", "stats", "--labels", "labels.csv", "--json"}).out);
  REQUIRE(j["shapes"].items.size() == 12);
  CHECK(j["shapes"][0]["width"].number == 9);
  CHECK(j["shapes"][0]["samples"].number == 2);
  CHECK(j["shapes"][11]["width"].number == 14);
  CHECK(j["sizes"]["min_width"].number == 3);
  CHECK(j["sizes"]["max_height"].number == 15);
}

TEST_CASE("cli: a missing path or label column names the file, line, keys and the option") {
  TempDir t;
  ImportThirty(t.path());
  WriteFile(t / "l.jsonl", "{\"file\":\"images/train/00000.png\",\"label\":\"x\"}\n");
  WriteFile(t / "l.csv", "path,class\nimages/train/00000.png,x\n");
  MustRun(t.path(), {"add", "."});
  MustRun(t.path(), {"commit", "-m", "tables"});
  CommandResult jsonl = RunVrepo(t.path(), {"dataset", "check", "--labels", "l.jsonl"});
  CHECK(jsonl.exit_code == 128);
  CHECK(jsonl.err ==
        "vrepo: dataset check: l.jsonl:1: no key 'path' (keys: file, label) [name the path "
        "column with --path-column]\n");
  CommandResult csv = RunVrepo(t.path(), {"dataset", "stats", "--labels", "l.csv"});
  CHECK(csv.err ==
        "vrepo: dataset stats: l.csv:1: missing column 'label' (columns: path, class) [name the "
        "label column with --label-column]\n");
  CHECK(RunVrepo(t.path(), {"diff", "HEAD", "--labels", "l.csv"})
            .err.find("[name the label column with --label-column]") != std::string::npos);
  MustRun(t.path(), {"dataset", "check", "--labels", "l.csv", "--label-column", "class"});
}

TEST_CASE("cli: dataset commands warn when the table has uncommitted changes") {
  TempDir t;
  ImportThirty(t.path());
  std::string table = ReadFileOrDie(t / "labels.csv");
  WriteFile(t / "labels.csv", table + "images/train/00000.png,extra\n");
  CommandResult check = MustRun(t.path(), {"dataset", "check", "--labels", "labels.csv"});
  const std::string warning =
      "vrepo: warning: labels.csv is modified in the working tree; using the version committed "
      "in " +
      MustRun(t.path(), {"rev-parse", "--short", "HEAD"}).out.substr(0, 7) +
      " [commit the changes to use them]\n";
  CHECK(check.err == warning);
  CHECK(check.out.find(": 30 rows,") != std::string::npos);  // the committed table
  CHECK(MustRun(t.path(), {"dataset", "stats", "--labels", "labels.csv", "--json"}).err == warning);
  WriteFile(t / "labels.csv", table);
  CHECK(MustRun(t.path(), {"dataset", "check", "--labels", "labels.csv"}).err.empty());

  // A class folder with a new, untracked image.
  WriteFile(t / "photos/coat/x.png", ReadFileOrDie(t / "images/train/00000.png"));
  MustRun(t.path(), {"add", "photos"});
  MustRun(t.path(), {"commit", "-m", "photos"});
  WriteFile(t / "photos/bag/y.png", ReadFileOrDie(t / "images/train/00001.png"));
  CHECK(MustRun(t.path(), {"dataset", "stats", "--labels", "photos"})
            .err.find("vrepo: warning: photos has untracked files in the working tree;") == 0);
}

TEST_CASE("cli: a table only in the working tree is not committed, with what to do") {
  TempDir t;
  ImportThirty(t.path());
  WriteFile(t / "new.csv", "path,label\nimages/train/00000.png,x\n");
  for (const char* command : {"check", "stats"}) {
    CommandResult r = RunVrepo(t.path(), {"dataset", command, "--labels", "new.csv"});
    CHECK(r.exit_code == 128);
    CHECK(r.err == std::string("vrepo: dataset ") + command +
                       ": new.csv: not committed: run `vrepo add new.csv` and commit\n");
  }
  CommandResult split = RunVrepo(
      t.path(), {"dataset", "split", "--labels", "new.csv", "--ratios", "1", "--rev", "HEAD"});
  CHECK(split.err.find("new.csv: not committed") != std::string::npos);
  // Staged is not committed either; a table nowhere keeps its own message.
  MustRun(t.path(), {"add", "new.csv"});
  CHECK(RunVrepo(t.path(), {"dataset", "check", "--labels", "new.csv"}).err.find("not committed") !=
        std::string::npos);
  CHECK(RunVrepo(t.path(), {"dataset", "check", "--labels", "nope.csv"})
            .err.find("is not a file or folder of commit") != std::string::npos);
}

}  // namespace
}  // namespace vrepo::testing
