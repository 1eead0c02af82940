// vrepo dataset check|stats|split|diff and diff --labels, end to end on real Fashion-MNIST PNGs.
#include "cli/cli_support.h"
#include "dataset/dataset_fixture.h"

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
  CHECK(j["problems"][0]["kind"].str == "bad-image");
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
  CHECK(j["shapes"]["28x28x1"].number == 30);
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
  CHECK(j["changes"][0]["kind"].str == "relabeled");
  CHECK(j["changes"][0]["old_label"].str == "dress");
  CHECK(j["changes"][0]["new_label"].str == "coat");
  CHECK(j["labels"]["coat"]["relabeled_in"].number == 1);
  CHECK(j["from"]["sample_digest"].str != j["to"]["sample_digest"].str);
  CHECK(RunVrepo(t.path(), {"diff", "--labels", "labels.csv"}).exit_code == 129);
}

}  // namespace
}  // namespace vrepo::testing
