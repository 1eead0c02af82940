// Data-parallel training (distributed.h): the gradient reducer against one process's
// gradients, and `vrepo train --nproc`, torchrun, reproduce, Ctrl-C and failing ranks end to
// end on Fashion-MNIST images.
#include "vrepo/train/distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/cli_support.h"
#include "train/reference_python.h"
#include "train/train_fixture.h"

namespace vrepo::testing {
namespace {

using train::DistributedOptions;
using train::RankGroup;

// Two ranks as two threads of this process, over a store hosted here.
struct TwoRanks {
  std::unique_ptr<train::StoreHost> host;
  std::unique_ptr<RankGroup> ranks[2];

  TwoRanks() {
    host = Must(train::StoreHost::Start(0, 2, std::chrono::seconds(30)));
    std::thread other([&] { ranks[1] = Must(RankGroup::Join(Options(1))); });
    ranks[0] = Must(RankGroup::Join(Options(0)));
    other.join();
  }
  DistributedOptions Options(int rank) const {
    DistributedOptions o;
    o.rank = rank;
    o.world_size = 2;
    o.local_rank = rank;
    o.local_world_size = 2;
    o.master_port = host->port();
    o.agent_store = true;
    o.timeout = std::chrono::seconds(30);
    return o;
  }
};

struct Cli : TrainRepo {
  Cli(int train, int test) : TrainRepo(train, test) { repo.reset(); }
};

std::vector<std::string> Args(const std::string& name, std::vector<std::string> extra,
                              const std::string& epochs = "2", const std::string& batch = "32") {
  std::vector<std::string> args = {
      "train",  "--labels", "labels.csv",   "--val", "test.csv",        "--epochs", epochs,
      "--seed", "7",        "--batch-size", batch,   "--deterministic", "--name",   name};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

Json Show(const std::string& dir, const std::string& run) {
  return Json::Parse(MustRun(dir, {"runs", "show", run, "--json"}).out);
}

// Starts vrepo with stdout into DIR/.out and stderr into DIR/.err; returns its pid.
pid_t Start(const std::string& dir, const std::vector<std::string>& args) {
  return SpawnVrepo(dir, args, dir + "/.out", dir + "/.err");
}

// The pids of `pid`'s children, oldest first (the launcher's ranks, rank 0 first).
std::vector<pid_t> Children(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t child; in >> child;) out.push_back(child);
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits until the launcher `pid` started in `dir` has its two ranks and rank 0 finished an
// epoch; false after 60 s.
bool WaitForTraining(pid_t pid, const std::string& dir) {
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Children(pid).size() == 2 && ReadAll(dir + "/.out").find("epoch 1/") != std::string::npos) {
      return true;
    }
  }
  return false;
}

// A port nothing listens on now (the kernel's choice for a socket bound to port 0).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("distributed: the reducer's summed gradients are the whole batch's") {
  TwoRanks job;
  torch::manual_seed(3);
  torch::nn::Linear whole(6, 4);
  torch::Tensor x = torch::randn({5, 6});
  torch::Tensor y = torch::tensor({0, 1, 2, 3, 1}, torch::kInt64);
  torch::nn::functional::cross_entropy(whole(x), y).backward();

  // Rank 0 takes 3 samples, rank 1 two; small buckets so that there are several.
  torch::Tensor grads[2][2];
  bool stops[2] = {};
  auto rank = [&](int r) {
    torch::nn::Linear model(6, 4);
    torch::NoGradGuard no_grad;
    model->weight.copy_(whole->weight);
    model->bias.copy_(whole->bias);
    train::GradientReducer reducer(*job.ranks[r], model->parameters(), /*bucket_bytes=*/16);
    for (int step = 0; step < 2; ++step) {
      model->zero_grad();
      reducer.StartStep(step);
      torch::Tensor xs = r == 0 ? x.slice(0, 0, 3) : x.slice(0, 3, 5);
      torch::Tensor ys = r == 0 ? y.slice(0, 0, 3) : y.slice(0, 3, 5);
      {
        torch::AutoGradMode grad(true);
        (torch::nn::functional::cross_entropy(model(xs), ys) * (xs.size(0) / 5.0)).backward();
      }
      // Rank 1 asks to stop in the second step: both hear it then, and only then.
      auto stop = reducer.FinishStep(r == 1 && step == 1);
      REQUIRE(stop.ok());
      if (step == 0) CHECK_FALSE(*stop);
      if (step == 1) stops[r] = *stop;
    }
    grads[r][0] = model->weight.grad().clone();
    grads[r][1] = model->bias.grad().clone();
  };
  std::thread other(rank, 1);
  rank(0);
  other.join();
  for (int r = 0; r < 2; ++r) {
    CHECK(torch::allclose(grads[r][0], whole->weight.grad(), 1e-5, 1e-6));
    CHECK(torch::allclose(grads[r][1], whole->bias.grad(), 1e-5, 1e-6));
    CHECK(stops[r]);
  }
  // Every rank holds the same sums, bit for bit.
  CHECK(torch::equal(grads[0][0], grads[1][0]));
}

TEST_CASE("distributed: a rank that never arrives fails the collective within the timeout") {
  auto host = Must(train::StoreHost::Start(0, 2, std::chrono::seconds(30)));
  DistributedOptions o;
  o.world_size = 2;
  o.master_port = host->port();
  o.agent_store = true;
  o.timeout = std::chrono::seconds(2);
  const auto start = std::chrono::steady_clock::now();
  auto joined = RankGroup::Join(o);
  REQUIRE_FALSE(joined.ok());
  CHECK(Seconds(start) < 20);
  CHECK(joined.status().message().find("rank 0: ") == 0);
}

TEST_CASE(
    "distributed: --nproc 2 records one run that learns, reads what one process reads and "
    "reproduces bit for bit") {
  Cli r(300, 100);
  const std::string dir = r.dir.path();
  MustRun(dir, Args("two", {"--nproc", "2"}));
  MustRun(dir, Args("one", {}));
  // One record for the two ranks.
  CHECK(Json::Parse(MustRun(dir, {"runs", "--json"}).out).items.size() == 2);

  Json two = Show(dir, "two"), one = Show(dir, "one");
  CHECK(two["distributed"]["world_size"].number == 2);
  CHECK(two["distributed"]["backend"].str == "gloo");
  REQUIRE(two["distributed"]["hosts"].items.size() == 2);
  REQUIRE(two["distributed"]["train_sample_digests"].items.size() == 2);
  const std::string& share0 = two["distributed"]["train_sample_digests"][0].str;
  const std::string& share1 = two["distributed"]["train_sample_digests"][1].str;
  CHECK(share0.size() == 64);
  CHECK(share1.size() == 64);
  CHECK(share0 != share1);
  CHECK(one["distributed"].is_null());
  // The same samples as one process with the same global batch, and similar learning: batch
  // norm sees each rank's 16 samples instead of 32.
  CHECK(two["splits"]["train"]["sample_digest"].str == one["splits"]["train"]["sample_digest"].str);
  CHECK(two["splits"]["val"]["sample_digest"].str == one["splits"]["val"]["sample_digest"].str);
  CHECK(two["best_val_accuracy"].number > 0.5);
  for (size_t e = 0; e < 2; ++e) {
    const Json& a = two["epochs"][e];
    const Json& b = one["epochs"][e];
    CHECK(std::fabs(a["train_loss"].number - b["train_loss"].number) < 0.1);
    CHECK(std::fabs(a["val_loss"].number - b["val_loss"].number) < 0.1);
    CHECK(std::fabs(a["val_accuracy"].number - b["val_accuracy"].number) < 0.06);
  }

  // Synchronized batch norm normalizes as one process does: only summation order differs.
  MustRun(dir, Args("synced", {"--nproc", "2", "--sync-bn"}));
  Json synced = Show(dir, "synced");
  CHECK(synced["config"]["sync_bn"].b);
  for (size_t e = 0; e < 2; ++e) {
    const Json& a = synced["epochs"][e];
    const Json& b = one["epochs"][e];
    CHECK(std::fabs(a["train_loss"].number - b["train_loss"].number) < 0.004);
    CHECK(std::fabs(a["val_loss"].number - b["val_loss"].number) < 0.02);
  }
  // 300 samples in batches of 299: rank 0's share of the last batch is empty, and it still
  // takes part in the step. Synchronized batch norm would need its forward pass, which
  // libtorch 1.13 cannot run on an empty batch: refused before training.
  MustRun(dir, Args("short", {"--nproc", "2"}, "1", "299"));
  CommandResult refused =
      RunVrepo(dir, Args("short-synced", {"--nproc", "2", "--sync-bn"}, "1", "299"));
  CHECK(refused.exit_code == 128);
  CHECK(refused.err.find("--sync-bn: the epoch's last batch has 1 of the 300 training samples, "
                         "fewer than the 2 ranks") != std::string::npos);

  // Reproduce starts the two ranks itself; deterministic: every field bit for bit.
  Json repro = Json::Parse(MustRun(dir, {"reproduce", "two", "--json"}).out);
  CHECK(repro["ok"].b);
  bool shares = false;
  for (const auto& f : repro["fields"].items) {
    CHECK_MESSAGE(f["match"].b, f["field"].str);
    shares |= f["field"].str == "ranks' train sample digests";
  }
  CHECK(shares);
}

TEST_CASE("distributed: torchrun starts the ranks, as two nodes on 127.0.0.1") {
  const std::string python = ReferencePython();
  if (std::system((python + " -c 'import torch.distributed.run' >/dev/null 2>&1").c_str()) != 0) {
    MESSAGE("skipped: " << python << " has no torch.distributed (python3-torch absent)");
    return;
  }
  Cli r(120, 40);
  const std::string dir = r.dir.path();
  MustRun(dir, Args("launched", {"--nproc", "2"}, "1"));
  const std::string torchrun =
      python + " " + std::string(VREPO_SOURCE_DIR) + "/tests/train/torchrun.py";
  auto train = [&](const std::string& name) {
    std::string cmd;
    for (const auto& a : Args(name, {}, "1")) cmd += " " + a;
    return " --no_python " + std::string(VREPO_BINARY) + cmd;
  };
  // Two "nodes" of one rank each, on 127.0.0.1: node 0's agent hosts the store.
  const std::string port = std::to_string(FreePort());
  const std::string nodes = torchrun + " --nnodes 2 --nproc_per_node 1 --master_addr 127.0.0.1 " +
                            "--master_port " + port;
  Shell("cd " + dir + " && (" + nodes + " --node_rank 1" + train("two-nodes") +
        " >/dev/null 2>&1 &) && " + nodes + " --node_rank 0" + train("two-nodes") +
        " >/dev/null 2>&1");
  const std::string weights = Show(dir, "launched")["weights"]["content_id"].str;
  Json show = Show(dir, "two-nodes");
  CHECK(show["distributed"]["world_size"].number == 2);
  // Deterministic, two ranks either way: the weights of the --nproc run, bit for bit.
  CHECK(show["weights"]["content_id"].str == weights);
}

TEST_CASE("distributed: a killed or stuck rank fails the job within --timeout, recording nothing") {
  Cli r(300, 100);
  const std::string dir = r.dir.path();
  for (int sig : {SIGKILL, SIGSTOP}) {
    CAPTURE(sig);
    pid_t pid = Start(dir, Args("doomed", {"--nproc", "2", "--timeout", "3"}, "500"));
    REQUIRE(WaitForTraining(pid, dir));
    ::kill(Children(pid)[1], sig);
    const auto start = std::chrono::steady_clock::now();
    CHECK(WaitPid(pid) == 128);
    // --timeout, then a few seconds for the others to stop on their own.
    CHECK(Seconds(start) < 20);
    const std::string message = ReadAll(dir + "/.err");
    CAPTURE(message);
    if (sig == SIGKILL) {
      CHECK(message.find("rank 1 was killed by signal 9") != std::string::npos);
    } else {
      // Whichever collective rank 0 waits in (a step's gradients, the epoch's evaluation).
      CHECK(message.find("rank 0 of 2: ") != std::string::npos);
      CHECK(message.find(" failed after waiting --timeout 3 s for the other ranks") !=
            std::string::npos);
      CHECK(message.find("ranks behind this one") != std::string::npos);
      CHECK(message.find(": 1 (at step") != std::string::npos);
    }
    CHECK(message.find("recorded nothing") != std::string::npos);
    CHECK(Json::Parse(MustRun(dir, {"runs", "--json"}).out).items.empty());
  }
}

TEST_CASE("distributed: Ctrl-C on the launcher stops every rank and records the run once") {
  Cli r(300, 100);
  const std::string dir = r.dir.path();
  pid_t pid = Start(dir, Args("stopped", {"--nproc", "2"}, "500"));
  REQUIRE(WaitForTraining(pid, dir));
  ::kill(pid, SIGINT);
  CHECK(WaitPid(pid) == 130);
  Json runs = Json::Parse(MustRun(dir, {"runs", "--json"}).out);
  REQUIRE(runs.items.size() == 1);
  CHECK(runs[0]["status"].str == "interrupted");
  CHECK(runs[0]["distributed"]["world_size"].number == 2);
  CHECK(runs[0]["epochs"].items.size() < 500);
}

}  // namespace vrepo::testing
