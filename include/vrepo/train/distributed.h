// Data-parallel training across processes (docs/training.md, "Several processes"): a rank's
// place in the job, the collectives the trainer needs (over libtorch's c10d process groups:
// Gloo on the CPU, NCCL on CUDA where libtorch has it), small values exchanged through the
// job's key-value store, and the gradient reducer that does what PyTorch's
// DistributedDataParallel does, which libtorch's C++ API lacks. Every failure of a collective
// is a Status naming this rank and, where the store can tell, the ranks that fell behind.
// One thread per RankGroup, as the trainer.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <vector>

#include "vrepo/util/status.h"

namespace torch::nn {
class Module;
}

namespace vrepo::train {

// Where a rank is and how to reach the others: torchrun's environment (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE,
// TORCHELASTIC_RESTART_COUNT), which `vrepo train --nproc` sets up the same way.
struct DistributedOptions {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  // The launcher hosts the store and every rank connects to it; otherwise rank 0 hosts it.
  bool agent_store = false;
  int attempt = 0;
  std::string backend = "gloo";  // "gloo" | "nccl"
  // How long a collective, or joining the job, may wait for the other ranks.
  std::chrono::seconds timeout{60};
};

// Whether this build can use `backend` ("gloo": built with Gloo's headers; "nccl": built
// against a libtorch with NCCL). InvalidArgument naming what is missing otherwise.
Status CheckBackend(const std::string& backend);

// The backend for `device` ("auto", "cpu" or "cuda") when none is asked for: NCCL where the
// ranks train on CUDA and this build has it, Gloo otherwise.
std::string DefaultBackend(const std::string& device);

// Hosts the job's key-value store (a c10d TCPStore) for local ranks, as torchrun's agent
// does; ranks connect with agent_store. Listens on 127.0.0.1:port (0: a free port).
class StoreHost {
 public:
  static Result<std::unique_ptr<StoreHost>> Start(int port, int world_size,
                                                  std::chrono::seconds timeout);
  virtual ~StoreHost() = default;
  virtual int port() const = 0;
};

class RankGroup {
 public:
  // Joins the job: connects to the store and builds the process group; waits at most
  // options.timeout for every rank to join.
  static Result<std::unique_ptr<RankGroup>> Join(const DistributedOptions& options);
  virtual ~RankGroup() = default;

  const DistributedOptions& options() const { return options_; }
  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }

  // Sums `t` over all ranks, in place (every rank gets the sum). `what` names the collective
  // in errors ("the gradients of step 12").
  virtual Status AllReduceSum(torch::Tensor& t, const std::string& what) = 0;
  // Rank 0's `t` to every rank, in place.
  virtual Status Broadcast(torch::Tensor& t, const std::string& what) = 0;
  // Every rank's `value` under `key`, by rank (through the store, for small values: run
  // facts, digests, host names). Keys are used once per job.
  virtual Result<std::vector<std::string>> Gather(const std::string& key,
                                                  const std::string& value) = 0;
  // Rank 0's `value` (ignored elsewhere) under `key` on every rank.
  virtual Result<std::string> Share(const std::string& key, const std::string& value) = 0;
  // This rank is at training step `step` (no I/O): the step that errors name. Every
  // collective also tells the store how many this rank entered, so that when one times out
  // the ranks that never arrived are named, with their steps.
  virtual void MarkStep(int64_t step) = 0;

  // "rank R of N: <what> failed ...: <cause>", naming the ranks behind this one when the store
  // can tell: the error of every failed collective.
  virtual Status Explain(const std::string& what, const std::string& cause) = 0;

  // The process group, for modules that run their own collectives (SetSyncBatchNorm).
  virtual c10::intrusive_ptr<c10d::ProcessGroup> process_group() = 0;

 protected:
  explicit RankGroup(DistributedOptions options) : options_(std::move(options)) {}
  DistributedOptions options_;
};

// Rank 0's parameters and buffers to every rank: the replicas start equal (and buffers,
// batch norm's running statistics, are rank 0's before every evaluation).
Status BroadcastParameters(RankGroup& group, torch::nn::Module& model);
Status BroadcastBuffers(RankGroup& group, torch::nn::Module& model);

// Sums the gradients of `params` over the ranks while backward runs, as PyTorch's DDP does:
// parameters in buckets (in reverse order, roughly the order their gradients appear), each
// bucket's allreduce started as soon as its gradients are all there and every earlier bucket
// has started, so that ranks issue collectives in the same order whatever their autograd
// order. Each rank's loss must be scaled by its share of the global batch: the sum is then
// the gradient of the global batch's mean loss, as one process computes it.
class GradientReducer {
 public:
  GradientReducer(RankGroup& group, std::vector<torch::Tensor> params, int64_t bucket_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before a step's backward.
  void StartStep(int64_t step);
  // After backward (or instead of it, on a rank with no sample in this step): starts the
  // buckets not yet started, waits for all, and writes the sums into the parameters' .grad.
  // `stop` is this rank's wish to stop (Ctrl-C); the result is whether any rank wished it,
  // the same on every rank.
  Result<bool> FinishStep(bool stop);

 private:
  struct Bucket;
  void OnGradient(size_t param, const torch::Tensor& grad);
  void LaunchReady(bool all);
  RankGroup& group_;
  std::vector<torch::Tensor> params_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<std::pair<size_t, int64_t>> where_;  // per parameter: bucket, offset
  std::vector<unsigned> hooks_;                    // per parameter
  size_t next_launch_ = 0;
  int64_t step_ = 0;
  bool active_ = false;
  Status failed_;
};

}  // namespace vrepo::train
