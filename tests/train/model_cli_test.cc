// vrepo model import/list/show/rm, train --base model:NAME, and models travelling with runs
// (push, fetch, clone), end to end through the vrepo binary.
// Torch headers pull in glog, whose CHECK macro doctest must override: torch first.
// clang-format off
#include "vrepo/train/models.h"
#include "vrepo/train/safetensors.h"

#include <doctest/doctest.h>
// clang-format on

#include "cli/cli_support.h"
#include "train/train_fixture.h"

namespace vrepo::testing {
namespace {

struct CliRepo : TrainRepo {
  CliRepo(int train, int test) : TrainRepo(train, test) { repo.reset(); }
};

// A small-cnn checkpoint (10 classes, gray) at `path`.
void WriteSmallCnn(const std::string& path) {
  torch::manual_seed(11);
  auto model = Must(train::MakeModel("small-cnn", 10, 1));
  Must(train::WriteSafetensors(path, train::StateDict(*model)));
}

TEST_CASE("model cli: import, list, show and rm, with --json, and bad input stores nothing") {
  TempDir dir;
  const std::string d = dir.path();
  MustRun(d, {"init", "."});
  WriteSmallCnn(dir / "sc.safetensors");
  CommandResult imported = MustRun(
      d, {"model", "import", "sc.safetensors", "--arch", "small-cnn", "--name", "base", "--json"});
  Json m = Json::Parse(imported.out);
  CHECK(m["name"].str == "base");
  CHECK(m["ref"].str == "refs/models/base");
  CHECK(m["arch"].str == "small-cnn");
  CHECK(m["num_classes"].number == 10);
  CHECK(m["classes"].items.size() == 10);
  CHECK(m["preprocessing"]["crop"].number == 28);
  CHECK(m["preprocessing"]["channels"].number == 1);
  CHECK(m["source"]["file"].str == "sc.safetensors");
  CHECK(m["source"]["format"].str == "safetensors");
  CHECK(m["source"]["sha256"].str.size() == 64);
  CHECK(m["weights"]["content_id"].str.size() == 64);
  CHECK(MustRun(d, {"rev-parse", "refs/models/base"}).out.substr(0, 40) == m["commit"].str);

  Json list = Json::Parse(MustRun(d, {"model", "list", "--json"}).out);
  REQUIRE(list.items.size() == 1);
  CHECK(list[0]["commit"].str == m["commit"].str);
  CHECK(MustRun(d, {"model"}).out.find("base") != std::string::npos);
  Json show = Json::Parse(MustRun(d, {"model", "show", "base", "--json"}).out);
  CHECK(show["weights"]["content_id"].str == m["weights"]["content_id"].str);
  CHECK(MustRun(d, {"model", "show", "base"}).out.find("arch: small-cnn\n") != std::string::npos);

  // Bad input: one line, exit 128, nothing recorded.
  // pickle.dumps(os.system("touch"), protocol=2)'s opcodes, written by hand.
  const char kEvil[] =
      "\x80\x02"
      "cposix\nsystem\nq\x00X\x05\x00\x00\x00touchq\x01\x85q\x02Rq\x03.";
  WriteFile(dir / "evil.pkl", std::string(kEvil, sizeof(kEvil) - 1));
  WriteFile(dir / "three.txt", "a\nb\nc\n");
  struct Case {
    std::vector<std::string> args;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {{"evil.pkl", "--arch", "small-cnn"},
            "vrepo: model import: evil.pkl: refusing pickle global 'posix.system'"},
           {{"sc.safetensors", "--arch", "resnet18", "--name", "r"},
            "vrepo: model import: sc.safetensors: not a resnet18 checkpoint: '"},
           {{"sc.safetensors", "--arch", "small-cnn", "--name", "base"},
            "vrepo: model import: model 'base' already exists (--force replaces it)"},
           {{"sc.safetensors", "--arch", "small-cnn", "--classes", "three.txt", "--name", "t"},
            "vrepo: model import: three.txt: 3 class names, but the checkpoint's head"},
           {{"sc.safetensors", "--arch", "small-cnn", "--mean", "x", "--name", "t"},
            "vrepo: model import: --mean 'x': not a list of numbers"},
           {{"missing.pth", "--arch", "small-cnn"}, "missing.pth"},
       }) {
    std::vector<std::string> args = {"model", "import"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandResult r = RunVrepo(d, args);
    INFO(r.err);
    CHECK(r.exit_code == 128);
    CHECK(Lines(r.err).size() == 1);
    CHECK(r.err.find(c.text) != std::string::npos);
  }
  CHECK(Json::Parse(MustRun(d, {"model", "list", "--json"}).out).items.size() == 1);
  CHECK(RunVrepo(d, {"model", "import", "sc.safetensors"}).exit_code == 129);  // no --arch

  Json removed = Json::Parse(MustRun(d, {"model", "rm", "base", "--json"}).out);
  REQUIRE(removed.items.size() == 1);
  CHECK(removed[0]["name"].str == "base");
  CHECK(Json::Parse(MustRun(d, {"model", "list", "--json"}).out).items.empty());
  CommandResult gone = RunVrepo(d, {"model", "show", "base"});
  CHECK(gone.exit_code == 128);
  CHECK(gone.err == "vrepo: model show: unknown model 'base'\n");
}

TEST_CASE(
    "model cli: train --base model:NAME implies --model, and the model travels with the run") {
  CliRepo r(300, 100);
  const std::string d = r.dir.path();
  WriteSmallCnn(r.Path("sc.safetensors"));
  Json m = Json::Parse(
      MustRun(d, {"model", "import", "sc.safetensors", "--arch", "small-cnn", "--json"}).out);
  const std::string model_commit = m["commit"].str;

  std::vector<std::string> train = {"train",    "--labels", "labels.csv", "--val", "test.csv",
                                    "--epochs", "1",        "--seed",     "3",     "--name",
                                    "tuned",    "--base",   "model:sc",   "--json"};
  Json run = Json::Parse(MustRun(d, train).out);
  CHECK(run["model"].str == "small-cnn");
  CHECK(run["base"]["spec"].str == "model:sc");
  CHECK(run["base"]["model_commit"].str == model_commit);
  CHECK(run["base"]["model_content_id"].str == m["weights"]["content_id"].str);
  REQUIRE(run["parents"].items.size() == 2);
  CHECK(run["parents"][1].str == model_commit);

  // An explicit other --model is one line, and no run.
  std::vector<std::string> wrong = train;
  wrong[10] = "wrong";
  wrong.insert(wrong.end(), {"--model", "resnet18"});
  CommandResult refused = RunVrepo(d, wrong);
  CHECK(refused.exit_code == 128);
  CHECK(refused.err ==
        "vrepo: train: --base model:sc is a small-cnn model, not resnet18 (leave --model out)\n");
  CHECK(RunVrepo(d, {"runs", "show", "wrong"}).exit_code == 128);

  // The model has no ref on the remote, but the run's closure carries its commit and weights.
  TempDir other;
  const std::string hub = other / "hub";
  MustRun(other.path(), {"init", "--bare", "hub"});
  MustRun(d, {"remote", "add", "origin", hub});
  MustRun(d, {"push", "origin", "--runs"});
  MustRun(other.path(), {"init", "fetched"});
  MustRun(other / "fetched", {"remote", "add", "origin", hub});
  MustRun(other / "fetched", {"fetch", "origin", "--runs"});
  CHECK(MustRun(other / "fetched", {"rev-parse", model_commit}).out.substr(0, 40) == model_commit);
  CHECK(Json::Parse(MustRun(other / "fetched", {"model", "list", "--json"}).out).items.empty());
  MustRun(other / "fetched", {"fsck"});

  // --models sends and fetches refs/models/*; clone brings them.
  MustRun(d, {"push", "origin", "--models"});
  MustRun(other / "fetched", {"fetch", "origin", "--models"});
  Json fetched = Json::Parse(MustRun(other / "fetched", {"model", "list", "--json"}).out);
  REQUIRE(fetched.items.size() == 1);
  CHECK(fetched[0]["commit"].str == model_commit);
  MustRun(other.path(), {"clone", hub, "cloned"});
  Json cloned = Json::Parse(MustRun(other / "cloned", {"model", "list", "--json"}).out);
  REQUIRE(cloned.items.size() == 1);
  CHECK(cloned[0]["name"].str == "sc");
  // The clone trains from the model it brought.
  std::vector<std::string> again = train;
  again[10] = "again";
  Json again_run = Json::Parse(MustRun(other / "cloned", again).out);
  CHECK(again_run["base"]["model_commit"].str == model_commit);
}

}  // namespace
}  // namespace vrepo::testing
