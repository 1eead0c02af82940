// vrepo runs, runs table, runs compare and runs plot over two tiny real training runs and a
// command run (a record as vrepo run writes it, made here directly), through the vrepo binary.
#include <algorithm>
#include <memory>

#include "cli/cli_support.h"
#include "train/train_fixture.h"
#include "vrepo/dataset/image.h"

namespace vrepo::testing {
namespace {

// The repository with runs "a" (lr 0.01), "b" (lr 0.001) and then the command run "script".
struct RunsRepo : TrainRepo {
  RunsRepo() : TrainRepo(60, 20) {
    repo.reset();  // the commands take the writer lock
    for (const auto& [name, lr] : {std::pair{"a", "0.01"}, std::pair{"b", "0.001"}}) {
      MustRun(dir.path(), {"train", "--labels", "labels.csv", "--val", "test.csv", "--epochs", "2",
                           "--batch-size", "20", "--seed", "7", "--lr", lr, "--name", name});
    }
    // Written last, so that it lists last (by time, then name) however fast training was.
    repo = Must(Repository::Discover(dir.path(), OpenOptions{}));
    WriteCommandRun();
    repo.reset();
  }

  // A command run's record (docs/runs.md): run.json and metrics.jsonl on the dataset commit.
  void WriteCommandRun() {
    const std::string run_json = R"({"format": 1, "kind": "command", "name": "script",
      "status": "completed", "exit_code": 0, "signal": 0,
      "dataset": {"rev": "HEAD", "commit": ")" +
                                 commit +
                                 R"(", "tree": ""}, "tables": ["labels.csv"],
      "command": ["python", "train.py", "--lr", "0.1", "--epochs", "3"], "cwd": "/tmp",
      "seconds": 1.5, "outputs": [{"path": "model.pt", "content_id": ")" +
                                 std::string(64, 'c') + R"(", "size": 10}]})";
    const std::string metrics =
        "{\"step\": 1, \"loss\": 2.0, \"accuracy\": 0.1}\n{\"step\": 2, \"loss\": 1.0, "
        "\"accuracy\": 0.2}\n";
    std::unique_ptr<PackWriter> writer = Must(repo->store().NewWriter());
    std::vector<FileEntry> entries;
    for (const auto& [path, bytes] :
         {std::pair<std::string, std::string>{"run.json", run_json}, {"metrics.jsonl", metrics}}) {
      entries.push_back(FileEntry{path, Must(writer->Put(bytes)), bytes.size(), false});
    }
    Must(writer->Commit(nullptr));
    const std::string tree = Must(repo->history().WriteTree(entries));
    script_commit = Must(repo->history().CreateCommit(tree, {commit}, "run script"));
    Must(repo->history().CreateRef("refs/runs/script", script_commit));
  }

  std::string script_commit;
};

std::vector<std::string> Names(const Json& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows.items) out.push_back(r["name"].str);
  return out;
}

bool Has(const Json& list, const std::string& s) {
  return std::any_of(list.items.begin(), list.items.end(),
                     [&](const Json& v) { return v.str == s; });
}

DecodedImage DecodePng(const std::string& path) {
  DecodeOptions rgb;
  rgb.channels = 3;
  return Must(DecodeImage(ReadFileOrDie(path), path, rgb));
}

size_t CountColour(const DecodedImage& img, uint8_t r, uint8_t g, uint8_t b) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < img.pixels.size(); i += 3) {
    n += img.pixels[i] == r && img.pixels[i + 1] == g && img.pixels[i + 2] == b;
  }
  return n;
}

}  // namespace

TEST_CASE("runs cli: table, compare and plot over training and command runs") {
  RunsRepo r;
  const std::string dir = r.dir.path();

  // The list names both kinds; a command run's WHAT is its command line.
  const std::string list = MustRun(dir, {"runs"}).out;
  CHECK(list.find("KIND") != std::string::npos);
  CHECK(list.find("python train.py --lr 0.1 --epochs 3") != std::string::npos);
  Json all = Json::Parse(MustRun(dir, {"runs", "--json"}).out);
  REQUIRE(all.items.size() == 3);
  CHECK(all[2]["name"].str == "script");  // oldest first
  CHECK(all[2]["kind"].str == "command");
  CHECK(all[0]["kind"].str == "train");

  // The table: settings that differ (lr; epochs, which the script ran with 3), not those all
  // share (batch_size, model); each metric's best and last.
  Json t = Json::Parse(MustRun(dir, {"runs", "table", "--json"}).out);
  CHECK(Has(t["settings"], "lr"));
  CHECK(Has(t["settings"], "epochs"));
  CHECK_FALSE(Has(t["settings"], "batch_size"));
  CHECK_FALSE(Has(t["settings"], "model"));
  CHECK(Has(t["metrics"], "val_accuracy"));
  CHECK(Has(t["metrics"], "loss"));
  CHECK_FALSE(Has(t["metrics"], "images_per_second"));  // bookkeeping: only when named
  REQUIRE(t["runs"].items.size() == 3);
  const Json& script = t["runs"][2];
  CHECK(script["kind"].str == "command");
  CHECK(script["dataset"]["commit"].str == r.commit);
  CHECK(script["config"]["lr"].number == 0.1);
  CHECK(script["metrics"]["loss"]["best"].number == 1.0);
  CHECK(script["metrics"]["accuracy"]["last"].number == 0.2);
  CHECK(script["metrics"]["val_accuracy"]["best"].is_null());
  const Json& a = t["runs"][0];
  CHECK(a["config"]["lr"].number == 0.01);
  CHECK(a["base"].str == "");
  CHECK(a["metrics"]["val_loss"]["best"].number <= a["metrics"]["val_loss"]["last"].number);

  // Two training runs of one model: only lr differs (and the two rates recorded from it).
  Json ab = Json::Parse(MustRun(dir, {"runs", "table", "a", "b", "--json"}).out);
  REQUIRE(ab["settings"].items.size() == 3);
  CHECK(ab["settings"][0].str == "backbone_lr");
  CHECK(ab["settings"][1].str == "head_lr");
  CHECK(ab["settings"][2].str == "lr");

  // --sort: best first (lowest for losses), runs without the metric last.
  Json by_loss = Json::Parse(MustRun(dir, {"runs", "table", "--sort", "val_loss", "--json"}).out);
  const auto loss = [&](size_t i) { return by_loss["runs"][i]["metrics"]["val_loss"]["best"]; };
  CHECK(loss(0).number <= loss(1).number);
  CHECK(by_loss["runs"][2]["name"].str == "script");
  Json by_acc =
      Json::Parse(MustRun(dir, {"runs", "table", "--sort", "val_accuracy", "--json"}).out);
  CHECK(by_acc["runs"][0]["metrics"]["val_accuracy"]["best"].number >=
        by_acc["runs"][1]["metrics"]["val_accuracy"]["best"].number);

  // --filter: numbers compare as numbers; every filter must hold.
  CHECK(Names(Json::Parse(
            MustRun(dir, {"runs", "table", "--filter", "lr<0.005", "--json"}).out)["runs"]) ==
        std::vector<std::string>{"b"});
  CHECK(Names(Json::Parse(MustRun(dir, {"runs", "table", "--filter", "kind = train", "--filter",
                                        "lr>=0.01", "--json"})
                              .out)["runs"]) == std::vector<std::string>{"a"});
  CHECK(Names(Json::Parse(MustRun(dir, {"runs", "table", "--filter", "loss<=1", "--filter",
                                        "status=completed", "--json"})
                              .out)["runs"]) == std::vector<std::string>{"script"});

  // --columns picks settings and metrics; text and CSV carry the same cells.
  Json cols = Json::Parse(
      MustRun(dir, {"runs", "table", "--columns", "batch_size,val_accuracy", "--json"}).out);
  CHECK(cols["settings"].items.size() == 1);
  CHECK(cols["metrics"].items.size() == 1);
  CHECK(cols["runs"][0]["config"]["batch_size"].number == 20);
  const std::vector<std::string> text = Lines(MustRun(dir, {"runs", "table", "a", "b"}).out);
  REQUIRE(text.size() == 3);
  CHECK(text[0].rfind("NAME", 0) == 0);
  CHECK(text[0].find("best val_accuracy") != std::string::npos);
  CHECK(text[1].rfind("a ", 0) == 0);
  CHECK(text[1].find("0.01") != std::string::npos);
  const std::vector<std::string> csv =
      Lines(MustRun(dir, {"runs", "table", "--columns", "lr", "--csv"}).out);
  REQUIRE(csv.size() == 4);
  // lr is a setting and, for training runs, a metric per epoch too: both are shown.
  CHECK(csv[0] == "name,commit,kind,status,dataset,base,lr,best lr,last lr");
  CHECK(csv[3] == "script," + r.script_commit + ",command,completed," + r.commit + ",-,0.1,-,-");

  // Bad expressions and names: one line, exit 129.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--filter", "lr"},
                                             {"--filter", "lr=<1"},
                                             {"--filter", "=1"},
                                             {"--filter", "nope=1"},
                                             {"--sort", "nope"},
                                             {"--columns", "lr,nope"},
                                             {"--json", "--csv"}}) {
    std::vector<std::string> cmd = {"runs", "table"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    CommandResult bad = RunVrepo(dir, cmd);
    const std::string context = args[0] + " " + args[1] + ": " + bad.err;
    INFO(context);
    CHECK(bad.exit_code == 129);
    CHECK(Lines(bad.err).size() == 1);
    CHECK(bad.out.empty());
  }

  // Compare takes any number of runs; two runs keep their "a"/"b" form.
  Json cmp = Json::Parse(MustRun(dir, {"runs", "compare", "a", "b", "script", "--json"}).out);
  REQUIRE(cmp["runs"].items.size() == 3);
  bool lr_listed = false;
  for (const auto& s : cmp["settings"].items) {
    if (s["key"].str != "config.lr") continue;
    lr_listed = true;
    REQUIRE(s["values"].items.size() == 3);
    CHECK(s["values"][2].number == 0.1);
  }
  CHECK(lr_listed);
  CHECK_FALSE(cmp["digests"]["train_sample_digest"]["equal"].b);  // the script has none
  REQUIRE(cmp["epochs"].items.size() == 2);
  CHECK(cmp["epochs"][1]["val_accuracy"]["values"][2].is_null());
  CHECK(cmp["epochs"][1]["loss"]["values"][2].number == 1.0);
  Json two = Json::Parse(MustRun(dir, {"runs", "compare", "a", "b", "--json"}).out);
  CHECK(two["a"]["name"].str == "a");
  CHECK(two["digests"]["train_sample_digest"]["equal"].b);
  CHECK(two["epochs"][0]["val_accuracy"].has("diff"));
  const std::string cmp_text = MustRun(dir, {"runs", "compare", "a", "b", "script"}).out;
  CHECK(cmp_text.find("C: run script " + r.script_commit) != std::string::npos);
  CHECK(cmp_text.find("config.lr") != std::string::npos);
  CHECK(cmp_text.find("VAL ACC A") != std::string::npos);
  CHECK(RunVrepo(dir, {"runs", "compare", "a"}).exit_code == 129);

  // Plot: one panel per metric (640x420, two to a row), a colour per run.
  TempDir out;
  CommandResult p = MustRun(dir, {"runs", "plot", "a", "b", "--out", out / "ab.png"});
  CHECK(p.out == "wrote " + (out / "ab.png") + ": 3 metrics of 2 runs\n");
  DecodedImage ab_png = DecodePng(out / "ab.png");
  CHECK(ab_png.width == 1280);  // val_accuracy, train_loss, val_loss
  CHECK(ab_png.height == 840);
  CHECK(CountColour(ab_png, 31, 119, 180) > 100);  // run a: tab10 blue
  CHECK(CountColour(ab_png, 255, 127, 14) > 100);  // run b: tab10 orange
  MustRun(dir, {"runs", "plot", "a", "script", "--metric", "val_accuracy", "--metric", "loss", "-o",
                out / "as.png"});
  DecodedImage as_png = DecodePng(out / "as.png");
  CHECK(as_png.width == 1280);
  CHECK(as_png.height == 420);
  MustRun(dir, {"runs", "plot", "a", "b", "--metric", "val_accuracy", "-o", out / "ab1.png"});
  MustRun(dir, {"runs", "plot", "a", "script", "--metric", "val_accuracy", "-o", out / "as1.png"});
  CHECK(DecodePng(out / "ab1.png").width == 640);
  CHECK(ReadFileOrDie(out / "ab1.png") != ReadFileOrDie(out / "as1.png"));
  CommandResult no_metric = RunVrepo(dir, {"runs", "plot", "a", "--metric", "nope", "-o", "x.png"});
  CHECK(no_metric.exit_code == 129);
  CHECK(no_metric.err.find("no run has a metric 'nope'") != std::string::npos);

  // A command run's record, shown generically; train's readers refuse it by name.
  const std::string shown = MustRun(dir, {"runs", "show", "script"}).out;
  CHECK(shown.find("kind: command (vrepo run)") != std::string::npos);
  CHECK(shown.find("command: python train.py --lr 0.1 --epochs 3") != std::string::npos);
  CHECK(shown.find("dataset.commit: " + r.commit) != std::string::npos);
  CHECK(shown.find(" path=model.pt size=10\n") != std::string::npos);
  CHECK(shown.find("metrics: 2 lines, the last: accuracy=0.2 loss=1 step=2") != std::string::npos);
  CHECK(Json::Parse(MustRun(dir, {"runs", "show", "script", "--json"}).out)["kind"].str ==
        "command");
  CommandResult eval = RunVrepo(dir, {"eval", "script", "--labels", "test.csv"});
  CHECK(eval.exit_code != 0);
  CHECK(eval.err.find("run 'script' was recorded by vrepo run, not by vrepo train") !=
        std::string::npos);

  // export and rm take either kind.
  MustRun(dir, {"runs", "export", "script", out / "script"});
  CHECK(ReadFileOrDie(out / "script/metrics.jsonl").find("\"loss\": 1.0") != std::string::npos);
  MustRun(dir, {"runs", "rm", "script"});
  CHECK(Json::Parse(MustRun(dir, {"runs", "--json"}).out).items.size() == 2);
}

}  // namespace vrepo::testing
