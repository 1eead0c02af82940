#include "vrepo/runs/run_summary.h"

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "must.h"
#include "testing.h"
#include "vrepo/repo/repository.h"

namespace vrepo::runs {
namespace {

using json = nlohmann::json;
using testing::Must;

const std::string kDatasetCommit(40, 'a');

// A training run's run.json as train::ToJson writes it (the fields a summary reads).
json TrainingRecord() {
  return json::parse(R"({
    "format": 2, "name": "r1", "status": "early-stopped",
    "dataset": {"rev": "main", "commit": ")" +
                     kDatasetCommit + R"(", "tree": ""},
    "classes": ["cat", "dog"], "model": "resnet18",
    "base": {"spec": "run:first", "model_content_id": "", "run_commit": "", "model_commit": ""},
    "config": {"name": "r1", "lr": 0.01, "optimizer": "sgd", "epochs": 2, "augment": {"flip": true}},
    "seed": 7,
    "epochs": [
      {"epoch": 1, "train_loss": 0.9, "val_loss": 0.8, "val_accuracy": 0.5,
       "per_class_accuracy": {"cat": 0.4}, "lr": 0.01, "backbone_lr": null,
       "retain": {"old": {"loss": 1.5, "accuracy": 0.3}}},
      {"epoch": 2, "train_loss": 0.5, "val_loss": 0.9, "val_accuracy": 0.75,
       "per_class_accuracy": {"cat": 0.7}, "lr": 0.001, "backbone_lr": null, "retain": {}}
    ],
    "confusion": [[3, 1], [0, 4]], "seconds": 12.5})");
}

json CommandRecord() {
  return json::parse(R"({
    "format": 1, "kind": "command", "name": "script", "status": "failed", "exit_code": 1,
    "signal": 0, "dataset": {"rev": "v1", "commit": ")" +
                     kDatasetCommit + R"(", "tree": ""},
    "tables": ["labels.csv"],
    "command": ["python", "train.py", "--lr", "0.1", "--opt=adam", "--fast", "--name", "a b",
                "--", "--not-an-option", "x"],
    "cwd": "/tmp", "seconds": 3.5, "outputs": []})");
}

TEST_CASE("SummarizeRecord reads a training run's config, metrics and confusion") {
  RunSummary s = Must(SummarizeRecord(TrainingRecord(), "", "run r1"));
  CHECK(s.kind == RunKind::kTrain);
  CHECK(std::string(RunKindName(s.kind)) == "train");
  CHECK(s.status == "early-stopped");
  CHECK(s.dataset_rev == "main");
  CHECK(s.dataset_commit == kDatasetCommit);
  CHECK(s.base == "run:first");
  CHECK(s.what == "resnet18");
  CHECK(s.config.at("lr") == "0.01");
  CHECK(s.config.at("optimizer") == "\"sgd\"");
  CHECK(s.config.at("augment.flip") == "true");
  CHECK(s.config.at("model") == "\"resnet18\"");
  CHECK(s.config.at("seed") == "7");
  CHECK(s.config.count("name") == 0);
  REQUIRE(s.metrics.size() == 2);
  CHECK(s.metrics[0].at("retain.old.accuracy") == doctest::Approx(0.3));
  CHECK(s.metrics[0].count("per_class_accuracy.cat") == 0);
  CHECK(s.metrics[0].count("backbone_lr") == 0);  // null: no value
  CHECK(s.classes == std::vector<std::string>{"cat", "dog"});
  CHECK(s.confusion == std::vector<std::vector<int64_t>>{{3, 1}, {0, 4}});
  CHECK(s.seconds == doctest::Approx(12.5));
  CHECK(*BestMetric(s, "val_loss") == doctest::Approx(0.8));  // lower is better
  CHECK(*LastMetric(s, "val_loss") == doctest::Approx(0.9));
  CHECK(*BestMetric(s, "val_accuracy") == doctest::Approx(0.75));
  CHECK(*LastMetric(s, "retain.old.loss") == doctest::Approx(1.5));  // the last row that has it
  CHECK_FALSE(BestMetric(s, "nothing").has_value());
  CHECK(MetricNames({s}) == std::vector<std::string>{"lr", "retain.old.accuracy", "retain.old.loss",
                                                     "train_loss", "val_accuracy", "val_loss"});
}

TEST_CASE("SummarizeRecord reads a command run's arguments and metrics lines") {
  RunSummary s = Must(
      SummarizeRecord(CommandRecord(),
                      "{\"step\": 1, \"loss\": 2.5, \"note\": \"x\", \"eval\": {\"acc\": 0.5}}\n\n"
                      "{\"step\": 2, \"loss\": 1.5}\r\n",
                      "run script"));
  CHECK(s.kind == RunKind::kCommand);
  CHECK(s.status == "failed");
  CHECK(s.dataset_rev == "v1");
  CHECK(s.what == "python train.py --lr 0.1 --opt=adam --fast --name \"a b\" -- --not-an-option x");
  CHECK(s.config.size() == 4);
  CHECK(s.config.at("lr") == "0.1");
  CHECK(s.config.at("opt") == "\"adam\"");
  CHECK(s.config.at("fast") == "true");
  CHECK(s.config.at("name") == "\"a b\"");
  REQUIRE(s.metrics.size() == 2);
  CHECK(s.metrics[0].at("eval.acc") == doctest::Approx(0.5));
  CHECK(s.metrics[0].count("note") == 0);
  CHECK(*BestMetric(s, "loss") == doctest::Approx(1.5));
  CHECK(MetricNames({s}) == std::vector<std::string>{"eval.acc", "loss"});
  CHECK(s.classes.empty());
}

TEST_CASE("LowerIsBetter: losses, errors and seconds") {
  CHECK(LowerIsBetter("val_loss"));
  CHECK(LowerIsBetter("top1_error"));
  CHECK(LowerIsBetter("seconds"));
  CHECK(LowerIsBetter("retain.old.loss"));
  CHECK_FALSE(LowerIsBetter("val_accuracy"));
  CHECK_FALSE(LowerIsBetter("images_per_second"));
}

TEST_CASE("DifferingSettings compares a key among the kinds of run that have it") {
  auto run = [](RunKind kind, std::map<std::string, std::string> config) {
    RunSummary s;
    s.kind = kind;
    s.config = std::move(config);
    return s;
  };
  const std::vector<RunSummary> shown = {
      run(RunKind::kTrain, {{"lr", "0.1"}, {"model", "\"small-cnn\""}, {"seed", "1"}}),
      run(RunKind::kTrain, {{"lr", "0.01"}, {"model", "\"small-cnn\""}}),
      run(RunKind::kCommand, {{"epochs", "3"}}),
  };
  // seed is absent from one training run; epochs is the command run's alone, and one value.
  CHECK(DifferingSettings(shown) == std::vector<std::string>{"lr", "seed"});
  CHECK(DifferingSettings({shown[0]}).empty());
}

TEST_CASE("SummarizeRecord answers a corrupt record with Corruption naming the run and field") {
  struct Case {
    const char* what;
    json record;
    std::string metrics;
    const char* message;
  };
  auto with = [](json j, const char* ptr, json value) {
    j[json::json_pointer(ptr)] = std::move(value);
    return j;
  };
  const Case cases[] = {
      {"not an object", json::array(), "", "run x: run.json is not an object"},
      {"no format", json{{"kind", "command"}}, "", "run x: /format is not a version number"},
      {"unknown kind", with(CommandRecord(), "/kind", "notebook"), "", "unknown kind 'notebook'"},
      {"kind not a string", with(CommandRecord(), "/kind", 3), "", "/kind is not a string"},
      {"status a number", with(TrainingRecord(), "/status", 1), "", "/status is not a string"},
      {"control character", with(TrainingRecord(), "/model", "a\x1b[2J"), "",
       "/model holds a control character"},
      {"dataset a list", with(CommandRecord(), "/dataset", json{1, 2}), "",
       "/dataset is not an object"},
      {"base a string", with(TrainingRecord(), "/base", "run:x"), "", "/base is not an object"},
      {"short commit", with(TrainingRecord(), "/dataset/commit", "abc"), "",
       "/dataset/commit is not 40 hex digits"},
      {"config a list", with(TrainingRecord(), "/config", json::array()), "",
       "/config is not an object"},
      {"epochs an object", with(TrainingRecord(), "/epochs", json::object()), "",
       "/epochs is not a list"},
      {"epoch a number", with(TrainingRecord(), "/epochs", json{1}), "",
       "/epochs holds a value that is not an object"},
      {"metric a string", with(TrainingRecord(), "/epochs/0/val_loss", "low"), "",
       "'val_loss' is not a number"},
      {"classes of numbers", with(TrainingRecord(), "/classes", json{1, 2}), "",
       "/classes holds a value that is not a string"},
      {"confusion of strings", with(TrainingRecord(), "/confusion", json{json{"a"}}), "",
       "/confusion is not a table of counts"},
      {"seconds a string", with(TrainingRecord(), "/seconds", "1"), "", "/seconds is not a number"},
      {"seed a string", with(TrainingRecord(), "/seed", "1"), "", "/seed is not a number"},
      {"command a string", with(CommandRecord(), "/command", "python x.py"), "",
       "/command is not a list"},
      {"argument a number", with(CommandRecord(), "/command", json{"python", 1}), "",
       "/command holds a value that is not a string"},
      {"metrics line a list", CommandRecord(), "{\"loss\": 1}\n[1, 2]\n",
       "run x: metrics.jsonl line 2: not a JSON object"},
      {"metrics line not JSON", CommandRecord(), "{\"loss\": \n", "line 1: not a JSON object"},
      {"metrics nested deep", CommandRecord(), std::string(40, '[') + std::string(40, ']'),
       "line 1: nests deeper than 16 levels"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    auto s = SummarizeRecord(c.record, c.metrics, "run x");
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == Status::Code::kCorruption);
    CHECK(s.status().message().find(c.message) != std::string::npos);
    CHECK(s.status().message().rfind("run x", 0) == 0);
  }
  CHECK(ParseRunJson("[1]", "run y: run.json").status().message() ==
        "run y: run.json is not valid JSON");
  CHECK(ParseRunJson(std::string(20, '{'), "run y: run.json").status().message() ==
        "run y: run.json nests deeper than 16 levels");
}

// A run commit written as run_commit would: run.json, metrics.jsonl, no parents needed here.
std::string WriteRunCommit(Repository& repo, const std::string& ref, const json& record,
                           const std::string& metrics) {
  std::unique_ptr<PackWriter> writer = Must(repo.store().NewWriter());
  std::vector<FileEntry> entries;
  for (const auto& [path, bytes] : {std::pair<std::string, std::string>{"run.json", record.dump()},
                                    {"metrics.jsonl", metrics}}) {
    entries.push_back(FileEntry{path, Must(writer->Put(bytes)), bytes.size(), false});
  }
  Must(writer->Commit(nullptr));
  const std::string tree = Must(repo.history().WriteTree(entries));
  const std::string commit = Must(repo.history().CreateCommit(tree, {}, "run " + ref));
  if (!ref.empty()) Must(repo.history().CreateRef("refs/runs/" + ref, commit));
  return commit;
}

TEST_CASE("ReadRunSummary and ListRunSummaries find runs by name and commit id") {
  testing::TempDir dir;
  std::unique_ptr<Repository> repo = Must(Repository::Init(dir.path()));
  const std::string train = WriteRunCommit(*repo, "trained", TrainingRecord(), "");
  const std::string command =
      WriteRunCommit(*repo, "scripted", CommandRecord(), "{\"loss\": 3}\n{\"loss\": 2}\n");
  const std::string removed = WriteRunCommit(*repo, "", TrainingRecord(), "");

  RunSummary s = Must(ReadRunSummary(*repo, "scripted"));
  CHECK(s.name == "scripted");
  CHECK(s.commit == command);
  CHECK(s.kind == RunKind::kCommand);
  CHECK(s.metrics.size() == 2);
  CHECK(s.time > 0);
  CHECK(Must(ReadRunSummary(*repo, "refs/runs/trained")).commit == train);
  CHECK(Must(ReadRunSummary(*repo, "run:trained")).name == "trained");
  CHECK(Must(ReadRunSummary(*repo, train.substr(0, 8))).name == "trained");
  RunSummary orphan = Must(ReadRunSummary(*repo, removed));  // no ref, but a record
  CHECK(orphan.name.empty());
  CHECK(orphan.DisplayName() == removed.substr(0, 12));
  std::string name = "x";
  CHECK(Must(ResolveRunCommit(*repo, command, &name)) == command);
  CHECK(name == "scripted");

  for (const std::string& bad :
       {std::string("nope"), std::string("ab"), std::string(""), std::string("0000000000")}) {
    auto r = ReadRunSummary(*repo, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kNotFound);
    CHECK(r.status().message() == "unknown run '" + bad + "'");
  }

  std::vector<RunSummary> all = Must(ListRunSummaries(*repo));
  REQUIRE(all.size() == 2);  // the removed run has no ref
  CHECK(all[0].time <= all[1].time);

  json bad = CommandRecord();
  bad["exit_code"] = "x";  // a field the summary does not read: still fine
  bad["status"] = json::array();
  WriteRunCommit(*repo, "broken", bad, "");
  auto broken = ReadRunSummary(*repo, "broken");
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.status().message() == "run broken: /status is not a string");
  CHECK_FALSE(ListRunSummaries(*repo).ok());
}

}  // namespace
}  // namespace vrepo::runs
