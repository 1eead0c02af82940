#include "vrepo/train/distributed.h"

#include <torch/cuda.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <sstream>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#ifdef VREPO_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef VREPO_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace vrepo::train {
namespace {

std::string FirstLine(const std::exception& e) {
  std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

bool Loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

class TcpStoreHost : public StoreHost {
 public:
  explicit TcpStoreHost(c10::intrusive_ptr<c10d::TCPStore> store) : store_(std::move(store)) {}
  int port() const override { return store_->getPort(); }

 private:
  c10::intrusive_ptr<c10d::TCPStore> store_;
};

class C10dRankGroup : public RankGroup {
 public:
  C10dRankGroup(DistributedOptions options, c10::intrusive_ptr<c10d::Store> store,
                c10::intrusive_ptr<c10d::Store> beat_store,
                c10::intrusive_ptr<c10d::ProcessGroup> group)
      : RankGroup(std::move(options)),
        store_(std::move(store)),
        group_(std::move(group)),
        beat_store_(std::move(beat_store)) {
    // A heartbeat on a connection of its own (a store client serves one thread): a rank that
    // is stopped or gone stops counting, one that is only slow keeps counting.
    beat_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(beat_mu_);
      while (!beat_stop_) {
        try {
          beat_store_->add("alive/" + std::to_string(rank()), 1);
        } catch (const std::exception&) {
          // The collectives report an unreachable store.
        }
        beat_cv_.wait_for(lock, kBeat);
      }
    });
  }
  ~C10dRankGroup() override {
    {
      std::lock_guard<std::mutex> lock(beat_mu_);
      beat_stop_ = true;
    }
    beat_cv_.notify_all();
    beat_.join();
  }

  Status AllReduceSum(torch::Tensor& t, const std::string& what) override {
    std::vector<at::Tensor> list = {t};
    return Wait([&] { return group_->allreduce(list); }, what);
  }

  Status Broadcast(torch::Tensor& t, const std::string& what) override {
    std::vector<at::Tensor> list = {t};
    c10d::BroadcastOptions opts;
    opts.rootRank = 0;
    return Wait([&] { return group_->broadcast(list, opts); }, what);
  }

  Result<std::vector<std::string>> Gather(const std::string& key,
                                          const std::string& value) override {
    std::vector<std::string> out(world_size());
    try {
      store_->set(key + "/" + std::to_string(rank()), Bytes(value));
      for (int r = 0; r < world_size(); ++r) {
        out[r] = Text(store_->get(key + "/" + std::to_string(r)));
      }
    } catch (const std::exception& e) {
      return Failed("exchanging " + key + " through the store", FirstLine(e));
    }
    return out;
  }

  Result<std::string> Share(const std::string& key, const std::string& value) override {
    try {
      if (rank() == 0) {
        store_->set(key, Bytes(value));
        return value;
      }
      return Text(store_->get(key));
    } catch (const std::exception& e) {
      return Failed("reading " + key + " from the store", FirstLine(e));
    }
  }

  void MarkStep(int64_t step) override { step_ = step; }

  Status Explain(const std::string& what, const std::string& cause) override {
    return Failed(what, cause);
  }

  c10::intrusive_ptr<c10d::ProcessGroup> process_group() override { return group_; }

 private:
  // Every rank makes the same collectives in the same order: before each, a rank writes how
  // many it has entered (and its step), so that the ranks that never arrived can be named.
  template <class Start>
  Status Wait(Start start, const std::string& what) {
    ++entered_;
    try {
      store_->set("progress/" + std::to_string(rank()),
                  Bytes(std::to_string(entered_) + " " + std::to_string(step_)));
    } catch (const std::exception&) {
      // Only diagnostics depend on it; the collective below reports the failure.
    }
    try {
      c10::intrusive_ptr<c10d::Work> work = start();
      work->wait(std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout));
      return Status::OK();
    } catch (const std::exception& e) {
      return Failed(what, FirstLine(e));
    }
  }

  // "rank 0: <what> failed: <cause>; rank 1 is behind (at step 3, this rank at step 5)".
  Status Failed(const std::string& what, const std::string& cause) {
    std::string behind;
    try {
      store_->setTimeout(std::chrono::seconds(2));
      // Heartbeats over three beats: a rank whose count stood still is stopped or gone (it
      // may have entered the collective's count and still never sent its part).
      std::vector<int64_t> beats(world_size());
      for (int r = 0; r < world_size(); ++r) {
        beats[r] = store_->add("alive/" + std::to_string(r), 0);
      }
      std::this_thread::sleep_for(3 * kBeat);
      for (int r = 0; r < world_size(); ++r) {
        if (r == rank()) continue;
        const std::string key = "progress/" + std::to_string(r);
        if (!store_->check({key})) {
          behind += (behind.empty() ? "" : ", ") + std::to_string(r) + " (no step yet)";
          continue;
        }
        int64_t entered = 0, at = 0;
        std::istringstream(Text(store_->get(key))) >> entered >> at;
        const bool stalled = store_->add("alive/" + std::to_string(r), 0) == beats[r];
        if (entered < entered_ || stalled) {
          behind += (behind.empty() ? "" : ", ") + std::to_string(r) + " (at step " +
                    std::to_string(at) + (stalled ? ", not responding" : "") + ")";
        }
      }
    } catch (const std::exception&) {
      behind = "unknown: the store does not answer";
    }
    const bool timed_out = cause.find("imed out") != std::string::npos;
    std::string message =
        "rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + ": " + what +
        " failed" +
        (timed_out ? " after waiting --timeout " + std::to_string(options_.timeout.count()) +
                         " s for the other ranks"
                   : "") +
        ": " + cause;
    if (!behind.empty()) {
      message += "; ranks behind this one (step " + std::to_string(step_) + "): " + behind;
    }
    return Status::IOError(message);
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  int64_t step_ = 0;
  int64_t entered_ = 0;  // collectives this rank has entered through Wait
  static constexpr auto kBeat = std::chrono::milliseconds(500);
  c10::intrusive_ptr<c10d::Store> beat_store_;
  std::thread beat_;
  std::mutex beat_mu_;
  std::condition_variable beat_cv_;
  bool beat_stop_ = false;
};

}  // namespace

Status CheckBackend(const std::string& backend) {
  if (backend == "gloo") {
#ifdef VREPO_HAVE_GLOO
    return Status::OK();
#else
    return Status::InvalidArgument(
        "--backend gloo: this vrepo was built without Gloo's headers (libgloo-dev)");
#endif
  }
  if (backend == "nccl") {
#ifdef VREPO_HAVE_NCCL
    return Status::OK();
#else
    return Status::InvalidArgument(
        "--backend nccl: this vrepo was built against a libtorch without NCCL (use gloo)");
#endif
  }
  return Status::InvalidArgument("--backend '" + backend + "' is not gloo or nccl");
}

std::string DefaultBackend(const std::string& device) {
  const bool cuda = device == "cuda" || (device == "auto" && torch::cuda::is_available());
  return cuda && CheckBackend("nccl").ok() ? "nccl" : "gloo";
}

Result<std::unique_ptr<StoreHost>> StoreHost::Start(int port, int world_size,
                                                    std::chrono::seconds timeout) {
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<uint16_t>(port);
    opts.isServer = true;
    opts.numWorkers = world_size;
    opts.waitWorkers = false;
    opts.timeout = timeout;
    opts.multiTenant = true;
    auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", opts);
    return std::unique_ptr<StoreHost>(new TcpStoreHost(std::move(store)));
  } catch (const std::exception& e) {
    return Status::IOError("starting the job's store on 127.0.0.1:" + std::to_string(port) + ": " +
                           FirstLine(e));
  }
}

Result<std::unique_ptr<RankGroup>> RankGroup::Join(const DistributedOptions& o) {
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    return Status::InvalidArgument("rank " + std::to_string(o.rank) + " is outside a world of " +
                                   std::to_string(o.world_size));
  }
  VREPO_RETURN_IF_ERROR(CheckBackend(o.backend));
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  c10::intrusive_ptr<c10d::Store> store, beat_store;
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<uint16_t>(o.master_port);
    opts.isServer = !o.agent_store && o.rank == 0;
    opts.numWorkers = o.world_size;
    opts.waitWorkers = opts.isServer;
    opts.timeout = o.timeout;
    opts.multiTenant = true;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(o.master_addr, opts);
    // As torch.distributed does under torchrun: keys of one attempt apart from the agent's.
    const std::string prefix = "/worker/attempt_" + std::to_string(o.attempt);
    store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
    // The heartbeat's own client of the same store.
    opts.isServer = false;
    opts.waitWorkers = false;
    beat_store = c10::make_intrusive<c10d::PrefixStore>(
        prefix, c10::make_intrusive<c10d::TCPStore>(o.master_addr, opts));
  } catch (const std::exception& e) {
    return Status::IOError("rank " + std::to_string(o.rank) + ": joining the job at " + where +
                           " failed: " + FirstLine(e));
  }
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  try {
    if (o.backend == "gloo") {
#ifdef VREPO_HAVE_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(o.timeout);
      opts->devices.push_back(Loopback(o.master_addr)
                                  ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                  : c10d::ProcessGroupGloo::createDefaultDevice());
      group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, opts);
#endif
    } else {
#ifdef VREPO_HAVE_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = o.timeout;
      group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.world_size, opts);
#endif
    }
  } catch (const std::exception& e) {
    return Status::IOError("rank " + std::to_string(o.rank) + ": building the " + o.backend +
                           " process group of " + std::to_string(o.world_size) +
                           " ranks failed: " + FirstLine(e));
  }
  return std::unique_ptr<RankGroup>(
      new C10dRankGroup(o, std::move(store), std::move(beat_store), std::move(group)));
}

Status BroadcastParameters(RankGroup& group, torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) {
    torch::Tensor t = p.value();
    VREPO_RETURN_IF_ERROR(group.Broadcast(t, "the start weights' " + p.key()));
  }
  return BroadcastBuffers(group, model);
}

Status BroadcastBuffers(RankGroup& group, torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& b : model.named_buffers()) {
    torch::Tensor t = b.value();
    if (!t.defined() || t.numel() == 0) continue;
    VREPO_RETURN_IF_ERROR(group.Broadcast(t, "buffer " + b.key()));
  }
  return Status::OK();
}

// One flat tensor per bucket: its parameters' gradients side by side, flattened in their
// logical (NCHW) order whatever their memory format.
struct GradientReducer::Bucket {
  std::vector<size_t> params;
  torch::Tensor flat;
  size_t pending = 0;  // gradients still to arrive this step
  c10::intrusive_ptr<c10d::Work> work;
};

GradientReducer::GradientReducer(RankGroup& group, std::vector<torch::Tensor> params,
                                 int64_t bucket_bytes)
    : group_(group), params_(std::move(params)) {
  where_.resize(params_.size());
  // Reverse order: backward produces the last layers' gradients first. The first bucket is
  // small so that communication starts early (as DDP's 1 MiB first bucket).
  std::unique_ptr<Bucket> current;
  int64_t bytes = 0, limit = std::min<int64_t>(bucket_bytes, 1 << 20);
  int64_t offset = 0;
  auto close = [&] {
    if (!current) return;
    const torch::Tensor& first = params_[current->params.front()];
    current->flat = torch::zeros({offset}, first.options().dtype(torch::kFloat32));
    buckets_.push_back(std::move(current));
    limit = bucket_bytes;
    bytes = 0;
    offset = 0;
  };
  for (size_t i = params_.size(); i-- > 0;) {
    if (!current) current = std::make_unique<Bucket>();
    current->params.push_back(i);
    where_[i] = {buckets_.size(), offset};
    offset += params_[i].numel();
    bytes += params_[i].numel() * 4;
    if (bytes >= limit) close();
  }
  close();
  // The last bucket carries one more element: the ranks' wish to stop, summed.
  if (!buckets_.empty()) {
    Bucket& last = *buckets_.back();
    last.flat = torch::zeros({last.flat.numel() + 1}, last.flat.options());
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    hooks_.push_back(params_[i].register_hook([this, i](torch::Tensor grad) {
      OnGradient(i, grad);
      return grad;
    }));
  }
}

GradientReducer::~GradientReducer() {
  // The hooks hold `this`, and the parameters may outlive the reducer.
  for (size_t i = 0; i < params_.size(); ++i) params_[i].remove_hook(hooks_[i]);
}

void GradientReducer::StartStep(int64_t step) {
  step_ = step;
  active_ = true;
  next_launch_ = 0;
  failed_ = Status::OK();
  for (auto& b : buckets_) {
    b->flat.zero_();
    b->pending = b->params.size();
    b->work.reset();
  }
}

void GradientReducer::OnGradient(size_t param, const torch::Tensor& grad) {
  if (!active_) return;
  auto [bucket, offset] = where_[param];
  Bucket& b = *buckets_[bucket];
  b.flat.narrow(0, offset, grad.numel()).copy_(grad.reshape({-1}));
  if (b.pending > 0) --b.pending;
  LaunchReady(/*all=*/false);
}

// Starts buckets in index order, each once all its gradients are in (or every one, `all`);
// the last one waits for FinishStep, which adds the stop flag.
void GradientReducer::LaunchReady(bool all) {
  while (next_launch_ + 1 < buckets_.size() && (all || buckets_[next_launch_]->pending == 0)) {
    Bucket& b = *buckets_[next_launch_++];
    try {
      std::vector<at::Tensor> list = {b.flat};
      b.work = group_.process_group()->allreduce(list);
    } catch (const std::exception& e) {
      if (failed_.ok()) failed_ = Status::IOError(FirstLine(e));
    }
  }
}

Result<bool> GradientReducer::FinishStep(bool stop) {
  active_ = false;
  // Named in the errors of this step's collectives (the last bucket's below).
  group_.MarkStep(step_);
  const std::string what = "the gradients of step " + std::to_string(step_);
  LaunchReady(/*all=*/true);
  bool any_stop = false;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = *buckets_[i];
    if (i + 1 == buckets_.size()) {
      b.flat[b.flat.numel() - 1].fill_(stop ? 1.0 : 0.0);
      VREPO_RETURN_IF_ERROR(group_.AllReduceSum(b.flat, what));
      any_stop = b.flat[b.flat.numel() - 1].item<double>() > 0;
    } else if (b.work) {
      try {
        b.work->wait(
            std::chrono::duration_cast<std::chrono::milliseconds>(group_.options().timeout));
      } catch (const std::exception& e) {
        if (failed_.ok()) failed_ = Status::IOError(FirstLine(e));
      }
    }
  }
  if (!failed_.ok()) return group_.Explain(what, failed_.message());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto [bucket, offset] = where_[i];
    torch::Tensor& p = params_[i];
    torch::Tensor sum = buckets_[bucket]->flat.narrow(0, offset, p.numel()).view(p.sizes());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(sum);
    } else {
      p.mutable_grad() =
          sum.clone(at::MemoryFormat::Preserve).contiguous(p.suggest_memory_format());
    }
  }
  return any_stop;
}

}  // namespace vrepo::train
