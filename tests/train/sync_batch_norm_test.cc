// Synchronized batch norm: ranks (threads of this process, each with its own Gloo group over one
// in-memory store) normalize, back-propagate and track statistics as one batch norm over their
// joined batch, and a rank without samples keeps the others from waiting.
#include "vrepo/train/sync_batch_norm.h"

#include <doctest/doctest.h>
#include <torch/nn.h>

#ifdef VREPO_HAVE_GLOO
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "vrepo/train/models.h"

namespace vrepo::train {
namespace {

#ifdef VREPO_HAVE_GLOO
using SyncBnGroup = c10::intrusive_ptr<c10d::ProcessGroup>;

// Runs body(rank, group) for `world` ranks on as many threads, each with its own Gloo group over
// one in-memory store, and rethrows the first failure. A rank stuck in a collective gives up
// after the groups' timeout rather than hanging the test run.
void SyncBnRunRanks(int world, const std::function<void(int, const SyncBnGroup&)>& body) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<SyncBnGroup> groups(world);
  std::vector<std::exception_ptr> errors(world);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(30));
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        groups[rank] = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
        body(rank, groups[rank]);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

bool SyncBnClose(const torch::Tensor& a, const torch::Tensor& b, double tolerance = 1e-5) {
  return a.sizes() == b.sizes() && torch::allclose(a, b, tolerance, tolerance);
}

torch::Tensor SyncBnGradOrZeros(const torch::Tensor& t) {
  return t.grad().defined() ? t.grad() : torch::zeros_like(t);
}

// One batch of 8 split between ranks by `shares` against torch's BatchNorm2d on all 8: outputs,
// input gradients, summed weight and bias gradients and the running statistics agree.
void SyncBnCheckSplit(const std::vector<int64_t>& shares) {
  const int64_t n = 8, c = 4, h = 5, w = 3;
  torch::manual_seed(7);
  // Off-centre inputs, so that a variance taken as E[x^2] - E[x]^2 would show its rounding.
  const torch::Tensor x = torch::randn({n, c, h, w}) * 2 + 3;
  const torch::Tensor upstream = torch::randn({n, c, h, w});
  const torch::Tensor weight = torch::rand({c}) + 0.5, bias = torch::randn({c});
  auto init = [&](torch::nn::BatchNorm2dImpl& bn) {
    torch::NoGradGuard no_grad;
    bn.weight.copy_(weight);
    bn.bias.copy_(bias);
  };

  torch::nn::BatchNorm2d reference(c);
  init(*reference);
  torch::Tensor x_all = x.clone().requires_grad_(true);
  torch::Tensor y_all = reference(x_all);
  (y_all * upstream).sum().backward();

  const int world = static_cast<int>(shares.size());
  std::vector<BatchNorm2d> bns;
  std::vector<torch::Tensor> xs, upstreams, ys(world);
  int64_t offset = 0;
  for (int64_t share : shares) {
    bns.emplace_back(c);
    init(*bns.back());
    xs.push_back(x.narrow(0, offset, share).clone().requires_grad_(true));
    upstreams.push_back(upstream.narrow(0, offset, share));
    offset += share;
  }
  REQUIRE(offset == n);
  SyncBnRunRanks(world, [&](int rank, const SyncBnGroup& group) {
    SetSyncBatchNorm(*bns[rank], group);
    ys[rank] = bns[rank](xs[rank]);
    // Each rank's loss on its share: their sum is the reference's loss.
    (ys[rank] * upstreams[rank]).sum().backward();
  });

  std::vector<torch::Tensor> input_grads;
  torch::Tensor weight_grad = torch::zeros({c}), bias_grad = torch::zeros({c});
  for (int r = 0; r < world; ++r) {
    CHECK(ys[r].size(0) == shares[r]);
    input_grads.push_back(SyncBnGradOrZeros(xs[r]));
    weight_grad += bns[r]->weight.grad();
    bias_grad += bns[r]->bias.grad();
  }
  CHECK(SyncBnClose(torch::cat(ys), y_all));
  CHECK(SyncBnClose(torch::cat(input_grads), x_all.grad()));
  CHECK(SyncBnClose(weight_grad, reference->weight.grad()));
  CHECK(SyncBnClose(bias_grad, reference->bias.grad()));
  for (int r = 0; r < world; ++r) {
    CAPTURE(r);
    CHECK(SyncBnClose(bns[r]->running_mean, reference->running_mean));
    CHECK(SyncBnClose(bns[r]->running_var, reference->running_var));
    CHECK(bns[r]->num_batches_tracked.item<int64_t>() == 1);
  }
}
#endif

TEST_CASE("sync batch norm: every batch norm of the models can be synchronized") {
  for (const char* name :
       {"small-cnn", "resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0"}) {
    CAPTURE(name);
    auto model = MakeModel(name, 10, 3);
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    int count = 0;
    for (const auto& m : (*model)->modules(/*include_self=*/false)) {
      if (m->as<torch::nn::BatchNorm2d>() == nullptr) continue;
      ++count;
      CHECK(m->as<BatchNorm2d>() != nullptr);
    }
    CHECK(count > 0);
  }
}

TEST_CASE("sync batch norm: a batch split 5 and 3 over two ranks normalizes as one batch") {
#ifdef VREPO_HAVE_GLOO
  SyncBnCheckSplit({5, 3});
#else
  MESSAGE("skipped: built without Gloo (libgloo-dev)");
#endif
}

TEST_CASE("sync batch norm: a rank without samples takes part and returns an empty batch") {
#ifdef VREPO_HAVE_GLOO
  SyncBnCheckSplit({8, 0});
#else
  MESSAGE("skipped: built without Gloo (libgloo-dev)");
#endif
}

TEST_CASE("sync batch norm: small-cnn on two ranks trains as on their joined batch") {
#ifdef VREPO_HAVE_GLOO
  namespace F = torch::nn::functional;
  auto make = [] {
    torch::manual_seed(0);
    auto model = MakeModel("small-cnn", 10, 1);
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    (*model)->train();
    return *model;
  };
  Model reference = make();
  std::vector<Model> models = {make(), make()};
  const torch::Tensor x = torch::rand({6, 1, 28, 28});
  const torch::Tensor labels = torch::randint(0, 10, {6});
  const auto sum = F::CrossEntropyFuncOptions().reduction(torch::kSum);

  torch::Tensor logits = reference->forward(x);
  F::cross_entropy(logits, labels, sum).backward();
  const std::vector<int64_t> offsets = {0, 4, 6};
  std::vector<torch::Tensor> rank_logits(2);
  SyncBnRunRanks(2, [&](int rank, const SyncBnGroup& group) {
    SetSyncBatchNorm(*models[rank], group);
    const int64_t share = offsets[rank + 1] - offsets[rank];
    rank_logits[rank] = models[rank]->forward(x.narrow(0, offsets[rank], share));
    F::cross_entropy(rank_logits[rank], labels.narrow(0, offsets[rank], share), sum).backward();
  });

  CHECK(SyncBnClose(torch::cat(rank_logits), logits, 1e-4));
  for (const auto& p : reference->named_parameters()) {
    CAPTURE(p.key());
    torch::Tensor grad = models[0]->named_parameters()[p.key()].grad() +
                         models[1]->named_parameters()[p.key()].grad();
    CHECK(SyncBnClose(grad, p.value().grad(), 1e-4));
  }
  for (const auto& b : reference->named_buffers()) {
    CAPTURE(b.key());
    CHECK(SyncBnClose(models[1]->named_buffers()[b.key()].to(torch::kDouble),
                      b.value().to(torch::kDouble)));
  }
  // Back to per-rank statistics: no layer holds the group any more.
  SetSyncBatchNorm(*models[0], nullptr);
  for (const auto& m : models[0]->modules(/*include_self=*/false)) {
    if (auto* bn = m->as<BatchNorm2d>()) CHECK(!bn->group());
  }
#else
  MESSAGE("skipped: built without Gloo (libgloo-dev)");
#endif
}

}  // namespace
}  // namespace vrepo::train
