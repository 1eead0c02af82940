// vrepo train, runs, reproduce and eval end to end through the vrepo binary (which runs
// vrepo-train), on 600 Fashion-MNIST training and 200 test images, one epoch per run.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/cli_support.h"
#include "train/train_fixture.h"

namespace vrepo::testing {
namespace {

// Runs vrepo in a fresh repository; the fixture's own handle (and its writer lock) is closed.
struct CliRepo : TrainRepo {
  CliRepo(int train, int test) : TrainRepo(train, test) { repo.reset(); }
};

std::vector<std::string> TrainArgs(const std::string& name, std::vector<std::string> extra = {},
                                   const std::string& epochs = "1",
                                   const std::string& labels = "labels.csv") {
  std::vector<std::string> args = {"train",    "--labels", labels, "--val",
                                   "test.csv", "--epochs", epochs, "--seed",
                                   "7",        "--name",   name,   "--deterministic"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

Json RunsJson(const std::string& dir) { return Json::Parse(MustRun(dir, {"runs", "--json"}).out); }

}  // namespace

TEST_CASE("train cli: train records a run that runs lists, shows and compares") {
  CliRepo r(600, 200);
  const std::string dir = r.dir.path();
  CommandResult t = MustRun(dir, TrainArgs("first"));
  CHECK(t.out.find("epoch 1/1") != std::string::npos);
  CHECK(t.out.find("val acc") != std::string::npos);
  std::string run_commit = MustRun(dir, {"rev-parse", "refs/runs/first"}).out.substr(0, 40);
  CHECK(t.out.find("run first recorded: " + run_commit + " (refs/runs/first)") !=
        std::string::npos);

  Json runs = RunsJson(dir);
  REQUIRE(runs.items.size() == 1);
  CHECK(runs[0]["name"].str == "first");
  CHECK(runs[0]["commit"].str == run_commit);
  CHECK(runs[0]["status"].str == "completed");
  CHECK(runs[0]["dataset"]["commit"].str == r.commit);
  CHECK(runs[0]["epochs"].items.size() == 1);
  CHECK(runs[0]["ref"].str == "refs/runs/first");
  CHECK(runs[0]["best_val_accuracy"].number > 0.3);

  Json show = Json::Parse(MustRun(dir, {"runs", "show", "first", "--json"}).out);
  CHECK(show["dataset"]["commit"].str == r.commit);
  CHECK(show["splits"]["train"]["samples"].number == 600);
  CHECK(show["splits"]["val"]["samples"].number == 200);
  CHECK(show["config"]["deterministic"].b);
  std::string text = MustRun(dir, {"runs", "show", "first"}).out;
  for (const char* file : {"run.json", "metrics.jsonl", "model.safetensors", "plots/loss.png",
                           "plots/accuracy.png", "plots/confusion.png"}) {
    CHECK_MESSAGE(text.find("  " + std::string(file) + "\n") != std::string::npos, file);
  }

  // A fine-tune of that run: its record's second parent is the run it started from.
  MustRun(dir, TrainArgs("tuned", {"--base", "run:first", "--lr", "0.0005"}));
  runs = RunsJson(dir);
  REQUIRE(runs.items.size() == 2);
  const Json& tuned = runs[0]["name"].str == "tuned" ? runs[0] : runs[1];
  REQUIRE(tuned["parents"].items.size() == 2);
  CHECK(tuned["parents"][0].str == r.commit);
  CHECK(tuned["parents"][1].str == run_commit);

  Json cmp = Json::Parse(MustRun(dir, {"runs", "compare", "first", "tuned", "--json"}).out);
  CHECK(cmp["digests"]["train_sample_digest"]["equal"].b);
  CHECK_FALSE(cmp["digests"]["weights_content_id"]["equal"].b);
  bool lr_listed = false;
  for (const auto& s : cmp["settings"].items) lr_listed |= s["key"].str == "config.lr";
  CHECK(lr_listed);
  CHECK(cmp["epochs"].items.size() == 1);

  // The name is taken now: refused before any training.
  CommandResult again = RunVrepo(dir, TrainArgs("first"));
  CHECK(again.exit_code == 128);
  CHECK(again.err ==
        "vrepo: train: run name 'first' already exists (choose another --name, or remove that "
        "run: vrepo runs rm first)\n");

  // Export writes the record's files to a new folder and leaves the working tree alone.
  const std::string status_before = MustRun(dir, {"status", "--porcelain"}).out;
  TempDir out;
  CommandResult exported = MustRun(dir, {"runs", "export", "first", out / "first"});
  CHECK(exported.out.find("exported run first: 7 files") != std::string::npos);
  Json run_json = Json::Parse(ReadFileOrDie(out / "first/run.json"));
  CHECK(run_json["dataset"]["commit"].str == r.commit);
  for (const char* file : {"metrics.jsonl", "model.safetensors", "plots/loss.png",
                           "plots/accuracy.png", "plots/confusion.png"}) {
    CHECK_MESSAGE(!ReadFileOrDie(out / ("first/" + std::string(file))).empty(), file);
  }
  CHECK(MustRun(dir, {"status", "--porcelain"}).out == status_before);
  CommandResult not_empty = RunVrepo(dir, {"runs", "export", "first", out / "first"});
  CHECK(not_empty.exit_code == 128);
  CHECK(not_empty.err.find("exists and is not empty") != std::string::npos);

  // rm removes only the ref: the fine-tune still names it as its parent.
  CHECK(MustRun(dir, {"runs", "rm", "first"}).out ==
        "removed run first (was " + run_commit.substr(0, 7) + ")\n");
  runs = RunsJson(dir);
  REQUIRE(runs.items.size() == 1);
  CHECK(runs[0]["name"].str == "tuned");
  CHECK(RunVrepo(dir, {"runs", "show", "first"}).exit_code == 128);
  CHECK(RunVrepo(dir, {"runs", "rm", "first"}).err.find("unknown run 'first'") !=
        std::string::npos);
}

TEST_CASE("train cli: reproduce of a deterministic run matches bit for bit") {
  CliRepo r(600, 200);
  const std::string dir = r.dir.path();
  MustRun(dir, TrainArgs("det"));
  // The working tree moving on does not matter: the run names its commit.
  r.Write("labels.csv", "path,label\nimages/train/00000.png,bag\n");
  MustRun(dir, {"add", "labels.csv"});
  MustRun(dir, {"commit", "-m", "shrink the table"});

  CommandResult rep = MustRun(dir, {"reproduce", "det"});
  CHECK(rep.out.find("reproduced: every required field matched") != std::string::npos);
  Json j = Json::Parse(MustRun(dir, {"reproduce", "det", "--json"}).out);
  CHECK(j["ok"].b);
  CHECK(j["deterministic"].b);
  bool weights_checked = false;
  for (const auto& f : j["fields"].items) {
    INFO(f["field"].str);
    if (f["required"].b) CHECK(f["match"].b);
    if (f["field"].str == "weights content id") weights_checked = f["match"].b;
  }
  CHECK(weights_checked);
  CHECK(RunsJson(dir).items.size() == 1);  // a reproduction records nothing
}

TEST_CASE("train cli: eval prints accuracy, per-class accuracy and suspects") {
  CliRepo r(600, 200);
  const std::string dir = r.dir.path();
  MustRun(dir, TrainArgs("m"));
  CommandResult e = MustRun(dir, {"eval", "m", "--labels", "test.csv", "--suspects", "4"});
  CHECK(e.out.find("accuracy: ") != std::string::npos);
  CHECK(e.out.find("per class:") != std::string::npos);
  CHECK(e.out.find("4 suspects") != std::string::npos);
  // An aligned table, ranked by the given label's probability, lowest first, with the
  // predicted class's probability beside it.
  std::vector<std::string> lines = Lines(e.out);
  auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
    return line.find("PATH") != std::string::npos;
  });
  REQUIRE(header != lines.end());
  const size_t p_label = header->find("P(LABEL)"), predicted = header->find("PREDICTED");
  REQUIRE(p_label != std::string::npos);
  REQUIRE(header->find("P(PREDICTED)") != std::string::npos);
  REQUIRE(lines.end() - header == 5);
  double previous = -1;
  for (auto row = header + 1; row != lines.end(); ++row) {
    INFO(*row);
    CHECK(row->find("  images/test/") == 0);
    CHECK((*row)[predicted - 1] == ' ');
    CHECK((*row)[predicted] != ' ');
    const double p = std::stod(row->substr(p_label));
    CHECK(p >= previous);
    previous = p;
  }
  // No CUDA: the one line train gives, not libtorch's message.
  CommandResult cuda = RunVrepo(dir, {"eval", "m", "--labels", "test.csv", "--device", "cuda"});
  if (cuda.exit_code == 0) {
    MESSAGE("skipped: this machine has a CUDA device");
  } else {
    CHECK(cuda.exit_code == 128);
    CHECK(cuda.err ==
          "vrepo: eval: --device cuda: no CUDA device (torch::cuda::is_available() is false)\n");
  }

  Json j = Json::Parse(
      MustRun(dir, {"eval", "m", "HEAD", "--labels", "test.csv", "--suspects", "3", "--json"}).out);
  CHECK(j["samples"].number == 200);
  CHECK(j["predictions"].items.size() == 200);
  CHECK(j["suspects"].items.size() == 3);
  CHECK(j["accuracy"].number > 0.3);
  for (const auto& s : j["suspects"].items) CHECK(s["label"].str != s["predicted"].str);
  CHECK(j["confusion"].items.size() == 10);
}

TEST_CASE("train cli: bad input is one line, a nonzero exit and no run recorded") {
  CliRepo r(100, 40);
  const std::string dir = r.dir.path();
  r.Write("bad.csv", "path,label\nimages/train/00001.png,bag\nimages/train/nope.png,coat\n");
  MustRun(dir, {"add", "bad.csv"});
  MustRun(dir, {"commit", "-m", "a table naming a missing image"});
  TempDir outside;
  WriteFile(outside / "corrupt.safetensors", std::string("\x10\0\0\0\0\0\0\0{not json", 18));

  struct Case {
    std::vector<std::string> extra;
    std::string text;
    std::string labels = "labels.csv";
    bool skip_if_ok = false;  // --device cuda where a GPU exists
  };
  for (const auto& c : std::vector<Case>{
           {{"--model", "vgg"}, "unknown model 'vgg'"},
           {{}, "images/train/nope.png", "bad.csv"},
           {{"--base", outside / "corrupt.safetensors"}, "corrupt.safetensors"},
           {{"--base", "run:nothing"}, "unknown run 'nothing'"},
           {{"--device", "cuda"}, "--device cuda: no CUDA device", "labels.csv", true}}) {
    CommandResult res = RunVrepo(dir, TrainArgs("bad", c.extra, "1", c.labels));
    if (c.skip_if_ok && res.exit_code == 0) {
      MESSAGE("skipped: this machine has a CUDA device");
      continue;
    }
    INFO(res.err);
    CHECK(res.exit_code == 128);
    CHECK(Lines(res.err).size() == 1);
    CHECK(res.err.rfind("vrepo: train: ", 0) == 0);
    CHECK(res.err.find(c.text) != std::string::npos);
    CHECK(RunsJson(dir).items.empty());
  }
  CommandResult usage = RunVrepo(dir, {"train", "--epochs", "many"});
  CHECK(usage.exit_code == 129);
  CHECK(usage.err.find("see 'vrepo train --help'") != std::string::npos);
  CommandResult unknown = RunVrepo(dir, {"runs", "show", "nothing"});
  CHECK(unknown.exit_code == 128);
  CHECK(unknown.err.find("unknown run 'nothing'") != std::string::npos);
}

TEST_CASE("train cli: train and eval say when a table differs from the commit they read") {
  CliRepo r(100, 40);
  const std::string dir = r.dir.path();
  r.Write("new.csv", "path,label\nimages/train/00001.png,bag\n");
  CommandResult fresh = RunVrepo(dir, TrainArgs("fresh", {}, "1", "new.csv"));
  CHECK(fresh.exit_code == 128);
  CHECK(fresh.err == "vrepo: train: new.csv: not committed: run `vrepo add new.csv` and commit\n");

  r.Write("labels.csv", ReadFileOrDie(r.Path("labels.csv")) + "images/train/00001.png,bag\n");
  CommandResult trained = MustRun(dir, TrainArgs("edited"));
  CHECK(trained.err.find("labels.csv is modified in the working tree; using the version "
                         "committed in " +
                         r.commit.substr(0, 7)) != std::string::npos);
  r.Write("test.csv", ReadFileOrDie(r.Path("test.csv")) + "images/train/00001.png,bag\n");
  CommandResult eval = MustRun(dir, {"eval", "edited", "--labels", "test.csv"});
  CHECK(eval.err.find("test.csv is modified in the working tree") != std::string::npos);
  Json run = Json::Parse(MustRun(dir, {"runs", "show", "edited", "--json"}).out);
  CHECK(run["splits"]["train"]["samples"].number == 100);  // the committed table's rows
}

TEST_CASE("train cli: Ctrl-C records the run as interrupted") {
  CliRepo r(600, 200);
  const std::string dir = r.dir.path();
  const std::string out = dir + "/.train-out";
  pid_t pid = SpawnVrepo(dir, TrainArgs("stopped", {}, "200"), out);
  // After the first epoch's line the handler is installed (a fixed wait lost the race to a
  // slow start on a loaded machine), and 200 epochs are far off.
  auto started = [&] {
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    return text.str().find("epoch 1/") != std::string::npos;
  };
  for (int i = 0; i < 600 && !started(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid, SIGINT);
  CHECK(WaitPid(pid) == 130);
  Json runs = RunsJson(dir);
  REQUIRE(runs.items.size() == 1);
  CHECK(runs[0]["name"].str == "stopped");
  CHECK(runs[0]["status"].str == "interrupted");
  CHECK(runs[0]["epochs"].items.size() < 200);
}

}  // namespace vrepo::testing

namespace vrepo::testing {

TEST_CASE("train cli: schedule, smoothing, clipping and --retain are recorded and compared") {
  CliRepo r(120, 40);
  const std::string dir = r.dir.path();
  MustRun(dir, TrainArgs("base", {"--batch-size", "32"}));
  CommandResult t =
      MustRun(dir, TrainArgs("tuned",
                             {"--batch-size", "32", "--schedule", "cosine", "--warmup-epochs", "1",
                              "--label-smoothing", "0.1", "--grad-clip", "5", "--backbone-lr",
                              "0.0005", "--retain", "test.csv", "--retain", "labels.csv@HEAD"},
                             "2"));
  CHECK(t.out.find("retain test.csv acc ") != std::string::npos);
  CHECK(t.out.find(" lr 0.001 (backbone 0.0005) ") != std::string::npos);
  Json show = Json::Parse(MustRun(dir, {"runs", "show", "tuned", "--json"}).out);
  CHECK(show["config"]["schedule"].str == "cosine");
  CHECK(show["config"]["warmup_epochs"].number == 1);
  CHECK(show["config"]["label_smoothing"].number == 0.1);
  CHECK(show["config"]["grad_clip"].number == 5);
  CHECK(show["config"]["backbone_lr"].number == 0.0005);
  // A REV is recorded as the commit it named.
  REQUIRE(show["config"]["retain"].items.size() == 2);
  CHECK(show["config"]["retain"][1].str == "labels.csv@" + r.commit);
  REQUIRE(show["retain"].items.size() == 2);
  const std::string second = "labels.csv@" + r.commit.substr(0, 12);
  CHECK(show["retain"][1]["name"].str == second);
  CHECK(show["retain"][0]["samples"].number == 40);
  REQUIRE(show["epochs"].items.size() == 2);
  CHECK(show["epochs"][0]["lr"].number == 0.001);
  CHECK(show["epochs"][1]["lr"].number < 0.001);
  CHECK(show["epochs"][1]["retain"]["test.csv"]["accuracy"].number >= 0);
  CHECK(show["epochs"][1]["retain"][second]["loss"].number > 0);

  CommandResult cmp = MustRun(dir, {"runs", "compare", "base", "tuned"});
  CHECK(cmp.out.find("config.schedule") != std::string::npos);
  CHECK(cmp.out.find("RETAIN") != std::string::npos);
  Json cj = Json::Parse(MustRun(dir, {"runs", "compare", "base", "tuned", "--json"}).out);
  CHECK(cj["epochs"][1]["retain"]["test.csv"]["accuracy"]["b"].number >= 0);

  for (const auto& [extra, text] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--schedule", "linear"}, "unknown schedule 'linear'"},
           {{"--label-smoothing", "2"}, "--label-smoothing must be between 0 and 1"},
           {{"--retain", "missing.csv"}, "--retain "},
       }) {
    CommandResult res = RunVrepo(dir, TrainArgs("bad", extra));
    INFO(res.err);
    CHECK(res.exit_code == 128);
    CHECK(Lines(res.err).size() == 1);
    CHECK(res.err.find(text) != std::string::npos);
    CHECK(RunVrepo(dir, {"runs", "show", "bad"}).exit_code == 128);
  }
}

TEST_CASE("train cli: eval --failures writes the misclassified samples as a label table") {
  CliRepo r(120, 60);
  const std::string dir = r.dir.path();
  MustRun(dir, TrainArgs("m"));
  Json j = Json::Parse(MustRun(dir, {"eval", "m", "--labels", "test.csv", "--json"}).out);
  std::vector<std::pair<std::string, std::string>> wrong;
  for (const auto& p : j["predictions"].items) {
    if (p["label"].str != p["predicted"].str) wrong.push_back({p["path"].str, p["label"].str});
  }
  REQUIRE(!wrong.empty());
  CommandResult e = MustRun(dir, {"eval", "m", "--labels", "test.csv", "--failures", "fail.csv"});
  CHECK(e.out.find(std::to_string(wrong.size()) + " misclassified samples written to fail.csv") !=
        std::string::npos);
  const std::string text = ReadFileOrDie(r.Path("fail.csv"));
  CHECK(text.rfind("path,label,predicted,probability\n", 0) == 0);
  // It reads back as a label table: exactly the misclassified rows, in table order.
  LabelTable table = Must(ParseLabelTable(text, "fail.csv", TableOptions{}));
  REQUIRE(table.rows.size() == wrong.size());
  for (size_t i = 0; i < wrong.size(); ++i) {
    CHECK(table.rows[i].path == wrong[i].first);
    CHECK(table.rows[i].label == wrong[i].second);
  }
  // Refused when it exists, unless --force; --suspects stays as it was.
  const std::string before = text;
  CommandResult again = RunVrepo(
      dir, {"eval", "m", "--labels", "test.csv", "--failures", "fail.csv", "--suspects", "2"});
  CHECK(again.exit_code == 128);
  CHECK(again.err == "vrepo: eval: fail.csv: already exists (--force overwrites it)\n");
  CHECK(ReadFileOrDie(r.Path("fail.csv")) == before);
  CommandResult forced = MustRun(dir, {"eval", "m", "--labels", "test.csv", "--failures",
                                       "fail.csv", "--force", "--suspects", "2"});
  CHECK(forced.out.find("2 suspects") != std::string::npos);
  CHECK(ReadFileOrDie(r.Path("fail.csv")) == before);
  // The table can be committed and evaluated as any label table.
  MustRun(dir, {"add", "fail.csv"});
  MustRun(dir, {"commit", "-m", "failures to review"});
  Json back = Json::Parse(MustRun(dir, {"eval", "m", "--labels", "fail.csv", "--json"}).out);
  CHECK(back["samples"].number == wrong.size());
  CHECK(back["accuracy"].number == 0);
}

TEST_CASE(
    "train cli: a run on a lazy clone fetches only its table's samples and records the same") {
  CliRepo r(300, 0);
  const std::string src = r.dir.path();
  // A table of 40 of the 300 images: the run must read those and nothing else.
  const std::string labels = ReadFileOrDie(src + "/labels.csv");
  size_t end = 0;
  for (int line = 0; line < 41; ++line) end = labels.find('\n', end) + 1;
  WriteFile(src + "/subset.csv", labels.substr(0, end));
  MustRun(src, {"add", "subset.csv"});
  MustRun(src, {"commit", "-m", "subset"});
  TempDir clones;
  const std::string lazy = clones / "lazy";
  const std::string full = clones / "full";
  MustRun(clones.path(), {"clone", "--lazy", "--lazy-threshold", "0", src, lazy});
  MustRun(clones.path(), {"clone", src, full});
  const std::vector<std::string> args = {"train", "--labels", "subset.csv", "--val-split",
                                         "0.25",  "--epochs", "1",          "--seed",
                                         "3",     "--name",   "t",          "--deterministic"};
  MustRun(lazy, args);
  MustRun(full, args);
  Json fsck = Json::Parse(MustRun(lazy, {"fsck", "--json"}).out);
  CHECK(fsck["absent"].number == 260);
  CHECK(fsck["problems"].items.empty());
  // The records differ only in when they were made and how fast.
  auto record = [](const std::string& dir) {
    std::string out;
    std::istringstream in(MustRun(dir, {"runs", "show", "t", "--json"}).out);
    for (std::string line; std::getline(in, line);) {
      bool timing = false;
      for (const char* key :
           {"\"commit\":", "\"date\":", "\"time\":", "\"seconds\":", "\"images_per_second\":"}) {
        timing |= line.find(key) != std::string::npos;
      }
      if (!timing) out += line + "\n";
    }
    return out;
  };
  const std::string from_lazy = record(lazy);
  CHECK(from_lazy.find("sample_digest") != std::string::npos);
  CHECK(from_lazy == record(full));
}

}  // namespace vrepo::testing
