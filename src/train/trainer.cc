#include "vrepo/train/trainer.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "vrepo/dataset/dataset.h"
#include "vrepo/dataset/sample_digest.h"
#include "vrepo/train/distributed.h"
#include "vrepo/train/loader.h"
#include "vrepo/train/lora.h"
#include "vrepo/train/model_store.h"
#include "vrepo/train/models.h"
#include "vrepo/train/run_model.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/safetensors.h"
#include "vrepo/train/schedule.h"
#include "vrepo/train/sync_batch_norm.h"
#include "vrepo/util/file.h"
#include "vrepo/util/text.h"
#include "vrepo_source_revision.h"

namespace vrepo::train {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Restores torch's global settings that a run changes (threads, deterministic algorithms,
// cuDNN's choice of algorithms), so that a library caller (tests, reproduce) is left as it was.
class TorchSettingsGuard {
 public:
  TorchSettingsGuard()
      : threads_(torch::get_num_threads()),
        deterministic_(at::globalContext().deterministicAlgorithms()),
        cudnn_deterministic_(at::globalContext().deterministicCuDNN()),
        cudnn_benchmark_(at::globalContext().benchmarkCuDNN()) {}
  ~TorchSettingsGuard() {
    torch::set_num_threads(threads_);
    at::globalContext().setDeterministicAlgorithms(deterministic_, false);
    at::globalContext().setDeterministicCuDNN(cudnn_deterministic_);
    at::globalContext().setBenchmarkCuDNN(cudnn_benchmark_);
  }

 private:
  int threads_;
  bool deterministic_;
  bool cudnn_deterministic_;
  bool cudnn_benchmark_;
};

// bf16 autocast on `device`'s type for the scope (the forward pass and the loss), as
// torch.autocast does in Python: convolutions and matmuls run in bf16 (tensor cores on CUDA,
// oneDNN's AVX-512 bf16 or AMX kernels on the CPU), reductions and the loss in fp32;
// parameters, gradients and the optimizer stay fp32. Autocast is thread-local state.
class AutocastGuard {
 public:
  AutocastGuard(bool on, const torch::Device& device) : on_(on), cuda_(device.is_cuda()) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    // libtorch 2.4 replaced the per-backend calls by per-device ones.
    const at::DeviceType type = cuda_ ? at::kCUDA : at::kCPU;
    was_enabled_ = at::autocast::is_autocast_enabled(type);
    was_dtype_ = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, true);
#else
    if (cuda_) {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!on_) return;
    // The bf16 copies of the weights are cached while autocast is on; they go stale when the
    // optimizer steps, so the cache is dropped when the outermost scope ends.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    const at::DeviceType type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_enabled(type, was_enabled_);
    at::autocast::set_autocast_dtype(type, was_dtype_);
#else
    if (cuda_) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
#endif
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_;
  bool cuda_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kHalf;
};

// The CUDA device's name ("NVIDIA H100 80GB HBM3"), asked of the CUDA runtime that libtorch
// already loaded: this code is built without CUDA headers (Debian's libtorch has none), and
// cudaDeviceProp begins with `char name[256]`. "" when the runtime is not there.
std::string CudaDeviceName(int device) {
  using GetProperties = int (*)(void*, int);
  void* fn = dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties_v2");  // CUDA 12 and later
  if (fn == nullptr) fn = dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties");
  if (fn == nullptr) return "";
  // Larger than any CUDA version's cudaDeviceProp (about 1 KB).
  std::vector<char> prop(16384, 0);
  if (reinterpret_cast<GetProperties>(fn)(prop.data(), device) != 0) return "";
  return std::string(prop.data(), strnlen(prop.data(), 256));
}

// OpenBLAS picks its kernels per CPU (OPENBLAS_CORETYPE overrides): looked up at run time,
// because libtorch reaches BLAS through whichever libblas.so.3 the system selected.
std::string BlasKernels() {
  using CoreName = char* (*)();
  void* fn = dlsym(RTLD_DEFAULT, "openblas_get_corename");
  if (fn == nullptr) return "unknown";
  const char* core = reinterpret_cast<CoreName>(fn)();
  return std::string("OpenBLAS ") + (core != nullptr ? core : "unknown");
}

// Loads a label table at `commit` and refuses rows that name no image or carry no label:
// training on a silently shrunk dataset would record the wrong experiment.
Result<DatasetVersion> LoadSplit(Repository& repo, const std::string& commit,
                                 const std::string& table, const TrainConfig& config) {
  TableOptions columns;
  columns.path_column = config.path_column;
  columns.label_column = config.label_column;
  VREPO_ASSIGN_OR_RETURN(DatasetVersion v,
                         LoadDataset(repo.history(), repo.store(), commit, table, columns));
  for (const DatasetProblem& p : v.problems) {
    if (p.kind == ProblemKind::kMissing) {
      size_t missing = std::count_if(v.problems.begin(), v.problems.end(),
                                     [](const auto& q) { return q.kind == ProblemKind::kMissing; });
      return Status::InvalidArgument(
          table + ":" + std::to_string(p.line) + ": " + p.path + ": " + p.detail +
          (missing > 1 ? " (and " + std::to_string(missing - 1) + " more missing images)" : ""));
    }
  }
  for (const Sample& s : v.samples) {
    if (s.label.empty()) {
      return Status::InvalidArgument(table + ":" + std::to_string(s.line) + ": " + s.path +
                                     ": empty label");
    }
  }
  if (v.samples.empty()) return Status::InvalidArgument(table + ": no samples");
  return v;
}

// A copy of the module's state on the CPU, detached from autograd and the model.
TensorMap SnapshotState(const torch::nn::Module& model) {
  TensorMap out;
  for (auto& [name, t] : StateDict(model)) {
    out[name] = t.detach().to(torch::kCPU).contiguous().clone();
  }
  return out;
}

struct ValOutcome {
  double loss = 0;
  double accuracy = 0;
  std::map<std::string, double> per_class;
  std::vector<std::vector<int64_t>> confusion;
};

// What an evaluation pass counts, before it becomes metrics: the sums that ranks add up.
struct EvalCounts {
  double loss_sum = 0;
  int64_t loss_n = 0;
  std::vector<std::vector<int64_t>> confusion;  // [label][predicted], labels x model classes
};

// Runs `loader`'s samples through the model; targets >= the model's classes (labels the model
// does not know) count as wrong and are left out of the loss. `each` sees every sample's
// probabilities (CPU, [B, classes]).
Result<EvalCounts> RunEval(ImageClassifierImpl& model, SampleLoader& loader,
                           const torch::Device& device, bool bf16, size_t labels,
                           int64_t num_classes,
                           const std::function<void(const Batch&, const torch::Tensor&)>& each,
                           std::atomic<bool>* interrupted) {
  torch::NoGradGuard no_grad;
  model.eval();
  loader.StartEpoch(0);
  EvalCounts out;
  out.confusion.assign(labels, std::vector<int64_t>(num_classes, 0));
  while (true) {
    VREPO_ASSIGN_OR_RETURN(std::optional<Batch> batch, loader.Next());
    if (!batch) break;
    if (interrupted != nullptr && interrupted->load()) {
      return Status::InvalidArgument("interrupted");
    }
    // A rank's share of a last, short batch may be empty.
    if (batch->targets.size(0) == 0) continue;
    torch::Tensor x = batch->images.to(device, /*non_blocking=*/true);
    torch::Tensor logits;
    {
      AutocastGuard autocast(bf16, device);
      logits = model.forward(x);
    }
    logits = logits.to(torch::kCPU).to(torch::kFloat32);
    torch::Tensor targets = batch->targets;
    torch::Tensor known = targets < num_classes;
    if (known.any().item<bool>()) {
      torch::Tensor l = torch::nn::functional::cross_entropy(
          logits.index({known}), targets.index({known}),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
      out.loss_sum += l.item<double>();
      out.loss_n += known.sum().item<int64_t>();
    }
    torch::Tensor pred = logits.argmax(1);
    auto p = pred.accessor<int64_t, 1>();
    auto t = targets.accessor<int64_t, 1>();
    for (int64_t i = 0; i < pred.size(0); ++i) out.confusion[t[i]][p[i]]++;
    if (each) each(*batch, torch::softmax(logits, 1));
  }
  return out;
}

// Adds up every rank's counts (all ranks get the sums). Counts travel as doubles: exact up
// to 2^53.
Status ReduceCounts(RankGroup& group, EvalCounts* counts, const std::string& what) {
  std::vector<double> flat = {counts->loss_sum, static_cast<double>(counts->loss_n)};
  for (const auto& row : counts->confusion) flat.insert(flat.end(), row.begin(), row.end());
  torch::Tensor t = torch::tensor(flat, torch::kFloat64);
  VREPO_RETURN_IF_ERROR(group.AllReduceSum(t, what));
  auto a = t.accessor<double, 1>();
  counts->loss_sum = a[0];
  counts->loss_n = static_cast<int64_t>(a[1]);
  int64_t i = 2;
  for (auto& row : counts->confusion) {
    for (int64_t& v : row) v = static_cast<int64_t>(a[i++]);
  }
  return Status::OK();
}

// The metrics of `counts`: mean loss, accuracy over every sample, per-label accuracy and the
// confusion matrix over the model's classes.
ValOutcome Summarize(EvalCounts counts, const std::vector<std::string>& labels,
                     int64_t num_classes) {
  ValOutcome out;
  int64_t correct = 0, total = 0;
  for (size_t c = 0; c < labels.size(); ++c) {
    int64_t n = 0;
    for (int64_t v : counts.confusion[c]) n += v;
    const int64_t hit = static_cast<int64_t>(c) < num_classes ? counts.confusion[c][c] : 0;
    total += n;
    correct += hit;
    if (n > 0) out.per_class[labels[c]] = static_cast<double>(hit) / n;
  }
  out.loss = counts.loss_n ? counts.loss_sum / counts.loss_n : 0;
  out.accuracy = total ? static_cast<double>(correct) / total : 0;
  // Labels outside the model's classes were rows only for the counts above.
  counts.confusion.resize(num_classes);
  out.confusion = std::move(counts.confusion);
  return out;
}

// Evaluates `loader` (this rank's share of it) and, in a data-parallel run, adds up the
// ranks' counts: the metrics of the whole split on every rank.
Result<ValOutcome> EvaluateSplit(
    ImageClassifierImpl& model, SampleLoader& loader, const torch::Device& device, bool bf16,
    const std::vector<std::string>& labels, int64_t num_classes, RankGroup* group,
    std::atomic<bool>* interrupted,
    const std::function<void(const Batch&, const torch::Tensor&)>& each = {}) {
  // Ranks agree on stopping at the next training step instead: a rank leaving here alone
  // would leave the others waiting in the reduction.
  VREPO_ASSIGN_OR_RETURN(EvalCounts counts,
                         RunEval(model, loader, device, bf16, labels.size(), num_classes, each,
                                 group != nullptr ? nullptr : interrupted));
  if (group != nullptr) {
    VREPO_RETURN_IF_ERROR(ReduceCounts(*group, &counts, "the evaluation counts"));
  }
  return Summarize(std::move(counts), labels, num_classes);
}

torch::Device ResolveDevice(const std::string& device) {
  bool cuda = device == "cuda" || (device == "auto" && torch::cuda::is_available());
  return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

// Builds an optimizer over the head and backbone groups (empty groups left out: a frozen
// backbone has none).
Result<std::unique_ptr<torch::optim::Optimizer>> MakeOptimizer(ImageClassifierImpl& model,
                                                               const TrainConfig& c) {
  ParamGroups groups = SplitParameters(model);
  const double head_lr = c.head_lr > 0 ? c.head_lr : c.lr;
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  auto add = [&](std::vector<torch::Tensor> params, double lr) {
    if (params.empty()) return;
    if (c.optimizer == "sgd") {
      param_groups.emplace_back(
          std::move(params),
          std::make_unique<torch::optim::SGDOptions>(
              torch::optim::SGDOptions(lr).momentum(c.momentum).weight_decay(c.weight_decay)));
    } else {
      param_groups.emplace_back(std::move(params),
                                std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(lr).weight_decay(c.weight_decay)));
    }
  };
  add(std::move(groups.backbone), c.backbone_lr > 0 ? c.backbone_lr : c.lr);
  add(std::move(groups.head), head_lr);
  if (param_groups.empty())
    return Status::InvalidArgument("nothing to train: every parameter is frozen");
  if (c.optimizer == "sgd") {
    return std::unique_ptr<torch::optim::Optimizer>(
        new torch::optim::SGD(param_groups, torch::optim::SGDOptions(c.lr).momentum(c.momentum)));
  }
  return std::unique_ptr<torch::optim::Optimizer>(
      new torch::optim::AdamW(param_groups, torch::optim::AdamWOptions(c.lr)));
}

struct SampleSplits {
  std::vector<Sample> train, val;
};

// In a lazy clone (a store with an ObjectSource), fetches the samples a run reads (this rank's
// share of the first epoch, in its order) ahead of its loaders, in batches on a thread of its own,
// while the first batches decode; a sample the loader reaches first it fetches itself. Only the
// tables' samples are ever fetched. Stops (after the batch in flight) and joins when destroyed.
class LazySamplePrefetcher {
 public:
  LazySamplePrefetcher(ObjectStore& store, const std::vector<const SampleLoader*>& loaders) {
    if (store.source() == nullptr) return;
    std::vector<ContentId> ids;
    for (const SampleLoader* loader : loaders) {
      for (size_t i : loader->ShardOrder(0)) ids.push_back(loader->samples()[i].id);
    }
    thread_ = std::thread([this, &store, ids = std::move(ids)] {
      constexpr size_t kBatch = 1024;
      for (size_t i = 0; i < ids.size() && !stop_; i += kBatch) {
        std::vector<ContentId> batch(ids.begin() + i,
                                     ids.begin() + std::min(ids.size(), i + kBatch));
        // A failure here is not the run's: the loader's own fetch reports it, naming the sample.
        if (!store.Prefetch(batch).ok()) return;
      }
    });
  }
  ~LazySamplePrefetcher() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  LazySamplePrefetcher(const LazySamplePrefetcher&) = delete;
  LazySamplePrefetcher& operator=(const LazySamplePrefetcher&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The samples of `commit`: the train table's, and the validation table's or a seeded split
// of the train table.
Result<SampleSplits> LoadSamples(Repository& repo, const std::string& commit,
                                 const TrainConfig& config) {
  SampleSplits out;
  VREPO_ASSIGN_OR_RETURN(DatasetVersion train_v, LoadSplit(repo, commit, config.labels, config));
  if (!config.val_labels.empty()) {
    VREPO_ASSIGN_OR_RETURN(DatasetVersion val_v,
                           LoadSplit(repo, commit, config.val_labels, config));
    out.train = std::move(train_v.samples);
    out.val = std::move(val_v.samples);
    return out;
  }
  SplitOptions split;
  split.ratios = {1 - config.val_split, config.val_split};
  split.names = {"train", "val"};
  split.seed = config.seed;
  VREPO_ASSIGN_OR_RETURN(std::vector<size_t> assigned, AssignSplits(train_v.table, split));
  std::map<std::string, size_t> by_path;
  for (size_t i = 0; i < train_v.table.rows.size(); ++i) {
    by_path.emplace(train_v.table.rows[i].path, assigned[i]);
  }
  for (Sample& s : train_v.samples) {
    (by_path[s.path] == 0 ? out.train : out.val).push_back(std::move(s));
  }
  if (out.train.empty() || out.val.empty()) {
    return Status::InvalidArgument(config.labels + ": --val-split " + Fixed(config.val_split, 3) +
                                   " leaves an empty split of " +
                                   std::to_string(train_v.samples.size()) + " samples");
  }
  return out;
}

// The preprocessing a base model carries, or nullopt: a `run:ID` base's recorded one (a
// legacy base run has none). The one place a base's preprocessing is looked up.
Result<std::optional<Preprocessing>> BasePreprocessing(Repository& repo, const std::string& base) {
  if (base.rfind("run:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(RunRecord run, ReadRun(repo, base.substr(4)));
    if (run.manifest.legacy_preprocessing) return std::optional<Preprocessing>();
    return std::optional<Preprocessing>(run.manifest.preprocessing);
  }
  if (base.rfind("model:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(ModelRecord model, ReadModel(repo, base));
    return std::optional<Preprocessing>(model.info.preprocessing);
  }
  return std::optional<Preprocessing>();
}

// The run's preprocessing: the config's own (reproduce), else the base's, else the model's
// default; --image-size then sets the crop. Sets result->preprocessing or, when the config
// replays a legacy record, result->legacy_preprocessing.
Status ResolvePreprocessing(Repository& repo, const TrainConfig& config, TrainResult* result) {
  result->legacy_preprocessing = config.legacy_preprocessing;
  if (config.legacy_preprocessing) return Status::OK();
  if (config.preprocessing) {
    result->preprocessing = *config.preprocessing;
    return Status::OK();
  }
  VREPO_ASSIGN_OR_RETURN(std::optional<Preprocessing> base, BasePreprocessing(repo, config.base));
  Preprocessing p;
  if (base) {
    p = *base;
  } else {
    VREPO_ASSIGN_OR_RETURN(p, DefaultPreprocessing(config.model));
  }
  if (config.image_size > 0) {
    VREPO_ASSIGN_OR_RETURN(p, WithImageSize(p, config.image_size));
  }
  result->preprocessing = p;
  return Status::OK();
}

struct Loaders {
  std::unique_ptr<SampleLoader> train, val;
  LoaderOptions val_options;  // the validation loader's, whose image size the weights record
};

// The train and validation loaders. Batches come out in channels_last, the faster layout for
// convolutions; validation neither shuffles nor augments: the eval transform (legacy: the
// training images' size).
Result<Loaders> MakeLoaders(Repository& repo, const TrainConfig& config,
                            const TrainResult& resolved, const torch::Device& device,
                            SampleSplits splits, const std::vector<std::string>& classes,
                            const RankGroup* group) {
  LoaderOptions lo;
  if (group != nullptr) {
    lo.shard = group->rank();
    lo.shards = group->world_size();
  }
  lo.batch_size = config.batch_size;
  lo.preprocessing = resolved.preprocessing;
  lo.legacy_preprocessing = resolved.legacy_preprocessing;
  lo.image_size = config.image_size;
  lo.seed = config.seed;
  lo.workers = config.workers;
  lo.prefetch = config.prefetch;
  lo.max_image_pixels = config.max_image_pixels;
  lo.pin_memory = device.is_cuda();
  lo.channels_last = true;
  for (const auto& a : config.augment) {
    if (a == "flip") lo.flip = true;
    if (a == "crop") lo.crop = true;
  }
  Loaders out;
  VREPO_ASSIGN_OR_RETURN(out.train,
                         SampleLoader::Create(repo.store(), std::move(splits.train), classes, lo));
  LoaderOptions& vo = out.val_options;
  vo = lo;
  vo.shuffle = false;
  vo.flip = vo.crop = false;
  vo.channels = out.train->channels();
  if (vo.image_size == 0 && out.train->height() == out.train->width()) {
    vo.image_size = out.train->height();
  }
  VREPO_ASSIGN_OR_RETURN(out.val,
                         SampleLoader::Create(repo.store(), std::move(splits.val), classes, vo));
  return out;
}

// Seeds and determinism before the model is built, so that its initial weights repeat. The
// caller holds a TorchSettingsGuard, which puts the global settings back afterwards.
void SeedAndSetDeterminism(const TrainConfig& config, const torch::Device& device) {
  torch::manual_seed(config.seed);
  if (device.is_cuda()) torch::cuda::manual_seed_all(config.seed);
  if (config.deterministic) {
    // cuBLAS reduces in a fixed order only with a fixed workspace; torch refuses deterministic
    // matmuls without this setting. Set before the first matmul creates cuBLAS's handle; a
    // value the user gave is kept.
    if (device.is_cuda()) setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
    torch::set_num_threads(1);
  } else if (device.is_cuda()) {
    // cuDNN times its algorithms once per input shape and keeps the fastest; the choice may
    // differ between runs, which only --deterministic rules out.
    at::globalContext().setBenchmarkCuDNN(true);
  }
}

// Loads the base model (a safetensors file, the weights of an earlier run, or an imported
// model) into `model`, with a new head when the class count differs, and records what it
// loaded in `result`.
Status LoadBase(Repository& repo, const TrainConfig& config, int64_t num_classes,
                ImageClassifierImpl& model, TrainResult* result) {
  if (config.base.empty()) return Status::OK();
  VREPO_ASSIGN_OR_RETURN(ResolvedBase base, ResolveBase(repo, config.base));
  if (!base.arch.empty() && base.arch != config.model) {
    return Status::InvalidArgument("--base " + config.base + " is a " + base.arch + " model, not " +
                                   config.model + " (leave --model out)");
  }
  result->base_run_commit = base.run_commit;
  result->base_model_commit = base.model_commit;
  result->base_model_id = base.content_id;
  const std::string& source = base.source;
  VREPO_ASSIGN_OR_RETURN(SafetensorsFile file, ParseSafetensors(base.weights, source));
  LoadStateOptions load;
  auto head = file.tensors.find(model.head_name() + ".weight");
  if (head != file.tensors.end() && head->second.dim() == 2 &&
      head->second.size(0) != num_classes) {
    load.skip_prefixes = {model.head_name() + "."};  // a new head for a different class count
  }
  VREPO_RETURN_IF_ERROR(LoadStateDict(model, file.tensors, source, load));
  return Status::OK();
}

struct TrainPass {
  double loss_sum = 0;      // summed over this rank's samples
  int64_t seen = 0;         // samples this rank trained on
  int64_t global_seen = 0;  // samples all ranks trained on
  bool interrupted = false;
};

struct StepSettings {
  const TrainConfig* config = nullptr;
  std::vector<double> base_lrs;  // per optimizer group, in the optimizer's order
  int64_t steps_per_epoch = 1;
  std::vector<torch::Tensor> trainable;  // what --grad-clip measures and scales
};

// The base run's classifier, for evaluating --retain tables through the head the base had.
struct BaseHead {
  std::vector<std::string> classes;
  torch::Tensor weight, bias;
};

// A --retain table, loaded before training, evaluated after every epoch through one head.
struct RetainSet {
  RetainRecord record;
  std::vector<std::string> classes;  // the head's classes, in its order
  std::unique_ptr<SampleLoader> loader;
};

// One pass over the training batches of `epoch` (of `epochs`), reporting progress a few times
// per pass; stops after the current batch when hooks.interrupted becomes true (in a
// data-parallel run: on any rank, all ranks after the same batch). With a reducer, this rank
// trains on its share of every global batch and the reducer sums the gradients.
Result<TrainPass> TrainEpoch(ImageClassifierImpl& model, SampleLoader& loader,
                             torch::optim::Optimizer& optimizer, const StepSettings& step,
                             const torch::Device& device, bool bf16, int epoch, int epochs,
                             GradientReducer* reducer, const TrainHooks& hooks) {
  const auto epoch_start = Clock::now();
  const size_t batches = loader.batches_per_epoch();
  const size_t report_every = std::max<size_t>(1, batches / 4);
  TrainPass pass;
  model.train();
  loader.StartEpoch(epoch - 1);
  size_t batch_no = 0;
  while (true) {
    VREPO_ASSIGN_OR_RETURN(std::optional<Batch> batch, loader.Next());
    if (!batch) break;
    torch::Tensor x = batch->images.to(device, /*non_blocking=*/true);
    torch::Tensor y = batch->targets.to(device, /*non_blocking=*/true);
    const int64_t global_step =
        static_cast<int64_t>(epoch - 1) * step.steps_per_epoch + static_cast<int64_t>(batch_no);
    const double factor = LearningRateFactor(*step.config, global_step, step.steps_per_epoch);
    auto& groups = optimizer.param_groups();
    for (size_t g = 0; g < groups.size() && g < step.base_lrs.size(); ++g) {
      groups[g].options().set_lr(step.base_lrs[g] * factor);
    }
    optimizer.zero_grad();
    const int64_t n = y.size(0);
    if (reducer != nullptr) reducer->StartStep(global_step);
    double batch_loss = 0;  // summed over this rank's samples
    if (n > 0) {
      // Summed and divided by the global batch in a data-parallel run: the ranks' gradients
      // add up to the gradient of the global batch's mean loss.
      auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
          step.config->label_smoothing);
      if (reducer != nullptr) options.reduction(torch::kSum);
      torch::Tensor loss;
      {
        AutocastGuard autocast(bf16, device);  // the loss too: autocast runs it in fp32
        loss = torch::nn::functional::cross_entropy(model.forward(x), y, options);
      }
      if (reducer != nullptr) {
        (loss / static_cast<double>(batch->global_size)).backward();
        batch_loss = loss.item<double>();
      } else {
        loss.backward();
        batch_loss = loss.item<double>() * n;
      }
    }
    bool stop = hooks.interrupted != nullptr && hooks.interrupted->load();
    if (reducer != nullptr) {
      VREPO_ASSIGN_OR_RETURN(stop, reducer->FinishStep(stop));
    }
    if (step.config->grad_clip > 0) {
      torch::nn::utils::clip_grad_norm_(step.trainable, step.config->grad_clip);
    }
    optimizer.step();
    pass.loss_sum += batch_loss;
    pass.seen += n;
    pass.global_seen += batch->global_size;
    ++batch_no;
    if (stop) {
      pass.interrupted = true;
      break;
    }
    if (hooks.reporter && batch_no % report_every == 0 && batch_no < batches) {
      hooks.reporter->Transient("epoch " + std::to_string(epoch) + "/" + std::to_string(epochs) +
                                "  batch " + std::to_string(batch_no) + "/" +
                                std::to_string(batches) + "  loss " +
                                Fixed(pass.loss_sum / std::max<int64_t>(1, pass.seen), 4) + "  " +
                                Fixed(pass.global_seen / Since(epoch_start), 0) + " img/s");
    }
  }
  return pass;
}

std::string Rate(double lr) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", lr);
  return buf;
}

// The line a person reads when an epoch ends.
std::string EpochLine(const EpochMetrics& m, int epochs) {
  std::string line = "epoch " + std::to_string(m.epoch) + "/" + std::to_string(epochs) +
                     "  train loss " + Fixed(m.train_loss, 4) + "  val loss " +
                     Fixed(m.val_loss, 4) + "  val acc " + Fixed(100 * m.val_accuracy, 2) + "%";
  for (const auto& [name, r] : m.retain) {
    line += "  retain " + name + " acc " + Fixed(100 * r.accuracy, 2) + "%";
  }
  line += "  lr " + Rate(m.lr);
  if (!std::isnan(m.backbone_lr) && m.backbone_lr != m.lr) {
    line += " (backbone " + Rate(m.backbone_lr) + ")";
  }
  return line + "  " + Fixed(m.images_per_second, 0) + " img/s  " + Fixed(m.seconds, 1) + " s";
}

// "TABLE" or "TABLE@REV" of --retain.
std::pair<std::string, std::string> SplitRetainSpec(const std::string& spec) {
  size_t at = spec.rfind('@');
  if (at == std::string::npos || at == 0) return {spec, ""};
  return {spec.substr(0, at), spec.substr(at + 1)};
}

// The base run's head, when the base is "run:ID" and its classes differ from the run's (with
// the same classes, the run's own head answers for them).
Result<std::optional<BaseHead>> ReadBaseHead(Repository& repo, const TrainConfig& config,
                                             const std::vector<std::string>& classes) {
  // The base's classes, architecture and a file holding its head: a run's weights (a LoRA
  // run's adapter file holds its head too) or an imported model's.
  std::vector<std::string> base_classes;
  std::string arch, bytes, source;
  if (config.base.rfind("run:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(RunRecord base_run, ReadRun(repo, config.base.substr(4)));
    base_classes = base_run.manifest.classes;
    arch = base_run.manifest.model;
    VREPO_ASSIGN_OR_RETURN(bytes, ReadRunWeights(repo, base_run));
    source = "run " + config.base.substr(4) + " " + base_run.manifest.weights_path;
  } else if (config.base.rfind("model:", 0) == 0) {
    VREPO_ASSIGN_OR_RETURN(ModelRecord model, ReadModel(repo, config.base));
    base_classes = model.info.classes;
    arch = model.info.arch;
    VREPO_ASSIGN_OR_RETURN(bytes, ReadModelWeights(repo, model));
    source = "model " + model.name + " model.safetensors";
  } else {
    return std::optional<BaseHead>();
  }
  if (base_classes == classes || base_classes.empty()) return std::optional<BaseHead>();
  VREPO_ASSIGN_OR_RETURN(SafetensorsFile file, ParseSafetensors(bytes, source));
  const std::string head_name = HeadName(arch);
  auto w = file.tensors.find(head_name + ".weight");
  auto b = file.tensors.find(head_name + ".bias");
  const auto n = static_cast<int64_t>(base_classes.size());
  if (w == file.tensors.end() || b == file.tensors.end() || w->second.dim() != 2 ||
      w->second.size(0) != n || b->second.numel() != n) {
    return Status::InvalidArgument(source + ": no head " + head_name + ".weight/.bias for its " +
                                   std::to_string(n) + " classes");
  }
  BaseHead head;
  head.classes = base_classes;
  head.weight = w->second.to(torch::kFloat32);
  head.bias = b->second.to(torch::kFloat32);
  return std::optional<BaseHead>(std::move(head));
}

// Loads the --retain tables (each spec rewritten in `specs` with its resolved commit when a
// REV was given), before anything trains: a missing table or image fails the run here.
Result<std::vector<RetainSet>> LoadRetainSets(Repository& repo, const TrainConfig& config,
                                              const std::string& dataset_commit,
                                              const std::vector<std::string>& classes,
                                              const std::optional<BaseHead>& base,
                                              const LoaderOptions& options,
                                              std::vector<std::string>* specs) {
  std::vector<RetainSet> out;
  for (std::string& spec : *specs) {
    auto [table, rev] = SplitRetainSpec(spec);
    std::string commit = dataset_commit;
    if (!rev.empty()) {
      auto resolved = repo.history().ResolveCommit(rev);
      if (!resolved.ok()) {
        return Status::InvalidArgument("--retain " + spec + ": " + resolved.status().message());
      }
      commit = *resolved;
      spec = table + "@" + commit;
    }
    const std::string name = rev.empty() ? table : table + "@" + commit.substr(0, 12);
    auto loaded = LoadSplit(repo, commit, table, config);
    if (!loaded.ok()) return Status::InvalidArgument("--retain " + loaded.status().message());
    const std::vector<Sample>& samples = loaded->samples;
    // Through the base's head when the table is the old task's: all its labels are base classes.
    const bool base_task =
        base && std::all_of(samples.begin(), samples.end(), [&](const Sample& s) {
          return std::count(base->classes.begin(), base->classes.end(), s.label) > 0;
        });
    std::vector<Sample> shared;
    for (const Sample& s : samples) {
      if (std::count(classes.begin(), classes.end(), s.label) > 0) shared.push_back(s);
    }
    if (shared.empty() && !base_task) {
      return Status::InvalidArgument("--retain " + table +
                                     ": none of its labels is a class of the run");
    }
    auto add = [&](std::vector<Sample> list, const std::vector<std::string>& head_classes,
                   const std::string& head) -> Status {
      RetainSet set;
      set.record.name = head == "base" ? name + " (base head)" : name;
      set.record.table = table;
      set.record.commit = commit;
      set.record.head = head;
      set.record.samples = list.size();
      set.record.skipped = samples.size() - list.size();
      set.classes = head_classes;
      VREPO_ASSIGN_OR_RETURN(
          set.loader, SampleLoader::Create(repo.store(), std::move(list), head_classes, options));
      out.push_back(std::move(set));
      return Status::OK();
    };
    if (!shared.empty()) VREPO_RETURN_IF_ERROR(add(std::move(shared), classes, "current"));
    if (base_task) VREPO_RETURN_IF_ERROR(add(samples, base->classes, "base"));
  }
  return out;
}

// Swaps the head's weights for the base's while it lives (the forward pass reads the Linear's
// weight and bias members; its registered parameters are untouched).
class BaseHeadSwap {
 public:
  BaseHeadSwap(ImageClassifierImpl& model, const BaseHead& base, const torch::Device& device)
      : fc_(model.head()), weight_(fc_->weight), bias_(fc_->bias) {
    fc_->weight = base.weight.to(device);
    fc_->bias = base.bias.to(device);
  }
  ~BaseHeadSwap() {
    fc_->weight = weight_;
    fc_->bias = bias_;
  }
  BaseHeadSwap(const BaseHeadSwap&) = delete;
  BaseHeadSwap& operator=(const BaseHeadSwap&) = delete;

 private:
  torch::nn::Linear fc_;
  torch::Tensor weight_, bias_;
};

// Gradient buckets of a data-parallel run: DDP's default size.
constexpr int64_t kBucketBytes = 25 << 20;

// A data-parallel run's shared start: rank 0 resolves the dataset commit, every other rank
// takes it and checks that it holds that commit and was given the same settings (ranks on
// other hosts read their own clone). Returns the commit.
Result<std::string> JoinRun(Repository& repo, const TrainConfig& config, RankGroup& group) {
  std::string commit;
  if (group.rank() == 0) {
    VREPO_ASSIGN_OR_RETURN(commit, repo.history().ResolveCommit(config.rev));
  }
  json settings = ConfigToJson(config);
  settings.erase("workers");  // loader threads are each host's own
  const std::string mine = json{{"commit", commit}, {"config", settings}}.dump();
  VREPO_ASSIGN_OR_RETURN(std::string first, group.Share("run", mine));
  const json rank0 = json::parse(first, nullptr, /*allow_exceptions=*/false);
  if (!rank0.is_object() || !rank0["commit"].is_string()) {
    return Status::Corruption("rank " + std::to_string(group.rank()) +
                              ": rank 0's run settings in the store do not parse");
  }
  if (group.rank() == 0) return commit;
  const std::string prefix = "rank " + std::to_string(group.rank()) + ": ";
  if (rank0["config"] != settings) {
    std::string differ;
    for (const auto& [key, value] : settings.items()) {
      if (rank0["config"].value(key, json()) != value) differ += (differ.empty() ? "" : ", ") + key;
    }
    return Status::InvalidArgument(prefix + "its settings differ from rank 0's (" + differ +
                                   "): every rank must be started with the same arguments");
  }
  commit = rank0["commit"].get<std::string>();
  if (!repo.history().GetCommit(commit).ok()) {
    return Status::InvalidArgument(prefix + "rank 0 trains on dataset commit " + commit +
                                   ", which this repository does not have");
  }
  return commit;
}

// The sample digest of a split after an epoch: what `loader` read or, in a data-parallel run,
// all of its samples: each rank checked the content of its share against these ids, and the
// run goes on only while all succeed.
std::string SplitDigest(const SampleLoader& loader, const RankGroup* group) {
  if (group == nullptr) return loader.epoch_digest();
  std::vector<DigestEntry> entries;
  entries.reserve(loader.samples().size());
  for (const Sample& s : loader.samples()) entries.push_back({s.path, s.id, s.label});
  return SampleDigest(std::move(entries));
}

// This host's name, as the run record lists each rank's.
std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

Result<TrainResult> TrainImpl(Repository& repo, const TrainConfig& config,
                              const TrainHooks& hooks) {
  const auto started = Clock::now();
  VREPO_RETURN_IF_ERROR(ValidateConfig(config));
  if (!config.name.empty()) VREPO_RETURN_IF_ERROR(CheckNewRunName(repo.history(), config.name));
  TrainResult result;
  result.config = config;
  TrainConfig& rc = result.config;
  RankGroup* group =
      hooks.group != nullptr && hooks.group->world_size() > 1 ? hooks.group : nullptr;
  torch::Device device = ResolveDevice(config.device);
  // One GPU per local rank.
  if (group != nullptr && device.is_cuda()) {
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(
                                             group->options().local_rank %
                                             std::max<int64_t>(1, torch::cuda::device_count())));
  }
  rc.device = device.is_cuda() ? "cuda" : "cpu";
  if (rc.precision == "auto") rc.precision = device.is_cuda() ? "bf16" : "fp32";
  const bool bf16 = rc.precision == "bf16";
  if (rc.head_lr <= 0) rc.head_lr = rc.lr;
  if (!rc.val_labels.empty()) rc.val_split = 0;
  result.versions = CurrentVersions(rc.device);

  // The data: one commit, the train table, and a validation table or a split of it.
  History& history = repo.history();
  if (group == nullptr) {
    VREPO_ASSIGN_OR_RETURN(result.dataset_commit, history.ResolveCommit(config.rev));
  } else {
    VREPO_ASSIGN_OR_RETURN(result.dataset_commit, JoinRun(repo, config, *group));
    // One host's cores shared by its ranks, unless told otherwise.
    if (rc.workers <= 0) {
      rc.workers = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                   std::max(1, group->options().local_world_size));
    }
  }
  VREPO_ASSIGN_OR_RETURN(CommitInfo commit, history.GetCommit(result.dataset_commit));
  result.dataset_tree = commit.tree;
  VREPO_ASSIGN_OR_RETURN(SampleSplits splits, LoadSamples(repo, result.dataset_commit, config));
  std::set<std::string> labels;
  for (const Sample& s : splits.train) labels.insert(s.label);
  for (const Sample& s : splits.val) labels.insert(s.label);
  result.classes.assign(labels.begin(), labels.end());
  const int64_t num_classes = static_cast<int64_t>(result.classes.size());
  if (num_classes < 2) {
    return Status::InvalidArgument(config.labels + ": needs at least 2 classes, found " +
                                   std::to_string(num_classes));
  }
  result.train_samples = splits.train.size();
  result.val_samples = splits.val.size();

  VREPO_RETURN_IF_ERROR(ResolvePreprocessing(repo, config, &result));
  VREPO_ASSIGN_OR_RETURN(Loaders loaders, MakeLoaders(repo, rc, result, device, std::move(splits),
                                                      result.classes, group));
  std::unique_ptr<SampleLoader>& train_loader = loaders.train;
  std::unique_ptr<SampleLoader>& val_loader = loaders.val;
  const LoaderOptions& vo = loaders.val_options;
  LazySamplePrefetcher prefetch(repo.store(), {train_loader.get(), val_loader.get()});
  if (group != nullptr && config.sync_bn) {
    // A rank with no sample would still have to run its forward pass for the synchronized
    // statistics, and libtorch 1.13's convolutions fail on an empty channels_last batch.
    const uint64_t last = result.train_samples % static_cast<uint64_t>(config.batch_size);
    if (last > 0 && last < static_cast<uint64_t>(group->world_size())) {
      return Status::InvalidArgument(
          "--sync-bn: the epoch's last batch has " + std::to_string(last) + " of the " +
          std::to_string(result.train_samples) + " training samples, fewer than the " +
          std::to_string(group->world_size()) +
          " ranks, so a rank would have none; choose another --batch-size");
    }
  }
  rc.workers = train_loader->workers();
  const int channels = train_loader->channels();
  // --retain: same preprocessing as validation.
  std::optional<BaseHead> base_head;
  if (!config.retain.empty()) {
    VREPO_ASSIGN_OR_RETURN(base_head, ReadBaseHead(repo, config, result.classes));
  }
  VREPO_ASSIGN_OR_RETURN(std::vector<RetainSet> retain,
                         LoadRetainSets(repo, config, result.dataset_commit, result.classes,
                                        base_head, vo, &rc.retain));
  if (rc.schedule == "step" && rc.step_epochs == 0) rc.step_epochs = StepEpochs(rc);
  if (rc.backbone_lr <= 0) rc.backbone_lr = rc.lr;

  TorchSettingsGuard settings_guard;
  SeedAndSetDeterminism(config, device);

  // The side the loader produces sizes ViT's positional embedding (CNNs take any).
  VREPO_ASSIGN_OR_RETURN(Model model,
                         MakeModel(config.model, num_classes, channels, train_loader->height()));
  VREPO_RETURN_IF_ERROR(LoadBase(repo, config, num_classes, *model, &result));
  VREPO_ASSIGN_OR_RETURN(FreezeSpec freeze, ParseFreezeSpec(config.freeze));
  VREPO_RETURN_IF_ERROR(Freeze(*model, freeze));
  if (config.lora_rank > 0) {
    LoraOptions lora{config.lora_rank, config.lora_alpha, config.lora_targets};
    VREPO_ASSIGN_OR_RETURN(result.lora_layers, ApplyLora(*model, lora));
    rc.lora_alpha = config.lora_alpha > 0 ? config.lora_alpha : config.lora_rank;
    result.lora_targets =
        config.lora_targets.empty() ? DefaultLoraTargets(config.model) : config.lora_targets;
  }
  for (const auto& p : model->parameters()) {
    if (p.requires_grad()) result.trainable_parameters += p.numel();
  }
  result.total_parameters = CountParameters(*model);
  model->to(device);
  ToChannelsLast(*model);
  if (group != nullptr) {
    VREPO_RETURN_IF_ERROR(BroadcastParameters(*group, *model));
    if (config.sync_bn) SetSyncBatchNorm(*model, group->process_group());
  }
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<torch::optim::Optimizer> optimizer,
                         MakeOptimizer(*model, config));
  StepSettings step;
  step.config = &rc;
  step.steps_per_epoch = static_cast<int64_t>(train_loader->batches_per_epoch());
  for (auto& group : optimizer->param_groups()) {
    step.base_lrs.push_back(group.options().get_lr());
    for (const auto& p : group.params()) step.trainable.push_back(p);
  }
  std::optional<GradientReducer> reducer;
  if (group != nullptr) reducer.emplace(*group, step.trainable, kBucketBytes);

  TensorMap best_state;
  std::vector<std::string> best_predictions;  // this rank's share, CSV records
  double best_accuracy = -1;
  int since_best = 0;
  result.status = RunStatus::kCompleted;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    if (group) {
      // Ranks start their clocks together: img/s is the training loop's, not how much later
      // than rank 0 the last rank finished starting up (that stays in the run's seconds).
      torch::Tensor start = torch::zeros({1});
      VREPO_RETURN_IF_ERROR(
          group->AllReduceSum(start, "the start of epoch " + std::to_string(epoch)));
    }
    const auto epoch_start = Clock::now();
    VREPO_ASSIGN_OR_RETURN(TrainPass pass,
                           TrainEpoch(*model, *train_loader, *optimizer, step, device, bf16, epoch,
                                      config.epochs, reducer ? &*reducer : nullptr, hooks));
    if (pass.interrupted) {
      result.status = RunStatus::kInterrupted;
      break;
    }
    const double train_seconds = Since(epoch_start);
    if (result.train_digest.empty()) {
      result.train_digest = SplitDigest(*train_loader, group);
      if (group) {
        VREPO_ASSIGN_OR_RETURN(result.distributed.train_digests,
                               group->Gather("train_digest", train_loader->epoch_digest()));
      }
    }
    if (group) {
      // The loss over every rank's samples; batch norm's running statistics are rank 0's
      // from here on, so that every rank evaluates (and keeps) the same model.
      torch::Tensor sums =
          torch::tensor({pass.loss_sum, static_cast<double>(pass.seen)}, torch::kFloat64);
      VREPO_RETURN_IF_ERROR(group->AllReduceSum(sums, "the training loss"));
      pass.loss_sum = sums[0].item<double>();
      pass.seen = static_cast<int64_t>(sums[1].item<double>());
      VREPO_RETURN_IF_ERROR(BroadcastBuffers(*group, *model));
    }

    // Every validation sample's prediction, for the record's predictions/val.csv (the samples
    // behind each confusion cell, and the likeliest label errors).
    std::vector<std::string> epoch_predictions;
    auto predicted = [&](const Batch& batch, const torch::Tensor& probs) {
      auto p = probs.accessor<float, 2>();
      for (size_t i = 0; i < batch.indices.size(); ++i) {
        const Sample& s = val_loader->samples()[batch.indices[i]];
        int64_t top = 0;
        for (int64_t c = 1; c < num_classes; ++c) {
          if (p[i][c] > p[i][top]) top = c;
        }
        const int64_t t = batch.targets[i].item<int64_t>();
        const double p_label = t < num_classes ? p[i][t] : 0.0;
        epoch_predictions.push_back(CsvLine(
            {s.path, s.label, result.classes[top], Fixed(p_label, 6), Fixed(p[i][top], 6)}));
      }
    };
    auto val = EvaluateSplit(*model, *val_loader, device, bf16, result.classes, num_classes, group,
                             hooks.interrupted, predicted);
    if (!val.ok()) {
      if (group == nullptr && hooks.interrupted != nullptr && hooks.interrupted->load()) {
        result.status = RunStatus::kInterrupted;
        break;
      }
      return val.status();
    }
    if (result.val_digest.empty()) {
      result.val_digest = SplitDigest(*val_loader, group);
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.train_loss = pass.seen ? pass.loss_sum / pass.seen : 0;
    m.val_loss = val->loss;
    m.val_accuracy = val->accuracy;
    m.per_class_accuracy = val->per_class;
    m.images_per_second = train_seconds > 0 ? pass.global_seen / train_seconds : 0;
    // The optimizer's groups: the backbone's (when it trains), then the head's.
    const auto& groups = optimizer->param_groups();
    m.lr = groups.back().options().get_lr();
    if (groups.size() > 1) m.backbone_lr = groups.front().options().get_lr();
    bool retain_interrupted = false;
    for (RetainSet& set : retain) {
      std::optional<BaseHeadSwap> swap;
      if (set.record.head == "base") swap.emplace(*model, *base_head, device);
      auto r = EvaluateSplit(*model, *set.loader, device, bf16, set.classes,
                             static_cast<int64_t>(set.classes.size()), group, hooks.interrupted);
      if (!r.ok()) {
        if (group == nullptr && hooks.interrupted != nullptr && hooks.interrupted->load()) {
          retain_interrupted = true;
          break;
        }
        return r.status();
      }
      m.retain[set.record.name] = {r->loss, r->accuracy};
      if (set.record.sample_digest.empty()) {
        set.record.sample_digest = SplitDigest(*set.loader, group);
      }
    }
    if (retain_interrupted) {
      result.status = RunStatus::kInterrupted;
      break;
    }
    m.seconds = Since(epoch_start);
    result.epochs.push_back(m);
    if (hooks.reporter) hooks.reporter->Info(EpochLine(m, config.epochs));
    if (m.val_accuracy > best_accuracy) {
      best_accuracy = m.val_accuracy;
      result.best_epoch = epoch;
      best_state = SnapshotState(*model);
      result.confusion = val->confusion;
      best_predictions = std::move(epoch_predictions);
      since_best = 0;
    } else if (config.early_stop > 0 && ++since_best >= config.early_stop) {
      result.status = RunStatus::kEarlyStopped;
      break;
    }
  }
  for (const RetainSet& set : retain) result.retain.push_back(set.record);
  if (group) {
    std::string mine;
    for (const std::string& line : best_predictions) mine += line + "\n";
    VREPO_ASSIGN_OR_RETURN(std::vector<std::string> shares, group->Gather("val_predictions", mine));
    best_predictions.clear();
    for (const std::string& share : shares) {
      for (std::string_view line : SplitLines(share)) best_predictions.emplace_back(line);
    }
  }
  if (!best_predictions.empty()) {
    // By path, so that the file does not depend on how the samples were batched or sharded.
    std::sort(best_predictions.begin(), best_predictions.end());
    result.val_predictions =
        CsvLine({"path", "label", "predicted", "p_label", "p_predicted"}) + "\n";
    for (const std::string& line : best_predictions) result.val_predictions += line + "\n";
  }
  if (group) {
    result.distributed.world_size = group->world_size();
    result.distributed.backend = group->options().backend;
    VREPO_ASSIGN_OR_RETURN(result.distributed.hosts, group->Gather("host", HostName()));
    // An interrupted first epoch gathered no digests: none to list.
    if (result.distributed.train_digests.empty()) {
      result.distributed.train_digests.assign(group->world_size(), "");
    }
  }
  // Interrupted before its first epoch ended: the weights it had (WriteRunRecord refuses to
  // record such a run, but the caller may still want them).
  if (best_state.empty()) best_state = SnapshotState(*model);
  if (config.lora_rank > 0) {
    // The adapter and the head: the frozen rest is the base's, named by its content id.
    const std::string head = model->head_name() + ".";
    std::erase_if(best_state, [&head](const auto& item) {
      return !IsLoraTensor(item.first) && !item.first.starts_with(head);
    });
  }
  json classes_json = result.classes;
  std::map<std::string, std::string> metadata = {
      {"model", config.model},
      {"classes", classes_json.dump()},
      {"format", "pt"},
  };
  if (config.lora_rank > 0) {
    metadata["adapter"] = "lora";
    metadata["lora_rank"] = std::to_string(config.lora_rank);
    metadata["lora_alpha"] = Fixed(rc.lora_alpha, 6);
  }
  if (result.legacy_preprocessing) {
    metadata["channels"] = std::to_string(channels);
    metadata["image_size"] = std::to_string(vo.image_size > 0 ? vo.image_size : 0);
  } else {
    metadata["preprocessing"] = PreprocessingToJson(result.preprocessing).dump();
  }
  VREPO_ASSIGN_OR_RETURN(result.weights, SerializeSafetensors(best_state, metadata));
  result.seconds = Since(started);
  return result;
}

}  // namespace

RunManifest ManifestOf(const TrainResult& r) {
  RunManifest m;
  m.name = r.config.name;
  m.status = r.status;
  m.dataset_rev = r.config.rev;
  m.dataset_commit = r.dataset_commit;
  m.dataset_tree = r.dataset_tree;
  m.train = {r.config.labels, 0, r.train_samples, r.train_digest};
  m.val = {r.config.val_labels.empty() ? r.config.labels : r.config.val_labels,
           r.config.val_labels.empty() ? r.config.val_split : 0.0, r.val_samples, r.val_digest};
  m.classes = r.classes;
  m.model = r.config.model;
  m.base_spec = r.config.base;
  m.base_model_id = r.base_model_id;
  m.base_run_commit = r.base_run_commit;
  m.base_model_commit = r.base_model_commit;
  m.config = r.config;
  m.preprocessing = r.preprocessing;
  m.legacy_preprocessing = r.legacy_preprocessing;
  m.seed = r.config.seed;
  m.versions = r.versions;
  m.retain = r.retain;
  m.epochs = r.epochs;
  m.best_epoch = r.best_epoch;
  m.best_val_accuracy = r.best_epoch > 0 ? r.epochs[r.best_epoch - 1].val_accuracy : 0.0;
  m.confusion = r.confusion;
  if (r.config.lora_rank > 0) {
    m.lora = {r.config.lora_rank, r.config.lora_alpha, r.lora_targets, r.lora_layers};
    m.weights_path = "adapter.safetensors";
  }
  m.distributed = r.distributed;
  m.trainable_parameters = r.trainable_parameters;
  m.total_parameters = r.total_parameters;
  m.weights_id = ContentId::Of(r.weights).Hex();
  m.weights_size = r.weights.size();
  m.seconds = r.seconds;
  return m;
}

VersionInfo CurrentVersions(const std::string& device) {
  VersionInfo v;
  v.vrepo = VREPO_VERSION;
  v.source_revision = VREPO_SOURCE_REVISION;
  v.libtorch = TORCH_VERSION;
  const auto& hooks = at::detail::getCUDAHooks();
  if (hooks.hasCUDA()) {
    long cuda = hooks.versionCUDART();
    v.cuda = std::to_string(cuda / 1000) + "." + std::to_string(cuda % 1000 / 10);
    if (hooks.hasCuDNN()) v.cudnn = std::to_string(hooks.versionCuDNN());
  }
  v.blas = BlasKernels();
  v.device_name = "cpu";
  if (device == "cuda") {
    std::string name = CudaDeviceName(0);
    v.device_name = name.empty() ? "cuda:0" : name;
  }
  return v;
}

Result<TrainResult> Train(Repository& repo, const TrainConfig& config, const TrainHooks& hooks) {
  // libtorch reports failures as exceptions; none may cross the library's API.
  try {
    return TrainImpl(repo, config, hooks);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument("train: " + what.substr(0, what.find('\n')));
  }
}

namespace {

Result<EvalResult> EvaluateImpl(Repository& repo, std::string_view weights,
                                const EvalOptions& options) {
  VREPO_RETURN_IF_ERROR(CheckDevice(options.device));
  VREPO_ASSIGN_OR_RETURN(SafetensorsFile file, ParseSafetensors(weights, "model.safetensors"));
  auto meta = [&](const char* key) -> std::string {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? "" : it->second;
  };
  EvalResult result;
  json classes = json::parse(meta("classes"), nullptr, false);
  if (!classes.is_array() || classes.empty() || meta("model").empty()) {
    return Status::InvalidArgument(
        "model.safetensors: metadata lacks model or classes (not written by vrepo train)");
  }
  for (const json& c : classes) {
    if (!c.is_string()) return Status::Corruption("model.safetensors: classes must be strings");
    result.classes.push_back(c.get<std::string>());
  }
  const int64_t num_classes = static_cast<int64_t>(result.classes.size());
  // The metadata sizes every batch: from a cloned run it is untrusted like the rest.
  LoaderOptions lo;
  if (const std::string text = meta("preprocessing"); !text.empty()) {
    json pj = json::parse(text, nullptr, /*allow_exceptions=*/false);
    VREPO_ASSIGN_OR_RETURN(lo.preprocessing,
                           PreprocessingFromJson(pj, "model.safetensors metadata"));
  } else {
    // Weights of a legacy run: the square side it was trained at (0 = each table's first
    // sample's size) and its channels.
    lo.legacy_preprocessing = true;
    lo.channels = std::atoi(meta("channels").c_str());
    lo.image_size = std::atoi(meta("image_size").c_str());
    if (lo.channels != 0 && lo.channels != 1 && lo.channels != 3) {
      return Status::Corruption("model.safetensors: metadata channels '" + meta("channels") +
                                "' is not 1 or 3");
    }
    if (lo.image_size < 0 || lo.image_size > kMaxNativeImageSide) {
      return Status::Corruption("model.safetensors: metadata image_size '" + meta("image_size") +
                                "' is not between 0 and " + std::to_string(kMaxNativeImageSide));
    }
  }
  const int channels =
      lo.legacy_preprocessing ? (lo.channels > 0 ? lo.channels : 3) : lo.preprocessing.channels;
  const int input_size = lo.legacy_preprocessing
                             ? (lo.image_size > 0 ? lo.image_size : kDefaultInputSize)
                             : lo.preprocessing.crop;
  VREPO_ASSIGN_OR_RETURN(Model model, MakeModel(meta("model"), num_classes, channels, input_size));
  VREPO_RETURN_IF_ERROR(LoadStateDict(*model, file.tensors, "model.safetensors"));
  VREPO_ASSIGN_OR_RETURN(result.commit, repo.history().ResolveCommit(options.rev));
  VREPO_ASSIGN_OR_RETURN(CommitInfo commit, repo.history().GetCommit(result.commit));
  result.tree = commit.tree;
  TrainConfig columns;
  columns.path_column = options.path_column;
  columns.label_column = options.label_column;
  VREPO_ASSIGN_OR_RETURN(DatasetVersion v, LoadSplit(repo, result.commit, options.labels, columns));
  result.sample_digest = SampleDigestOf(v);
  result.samples = v.samples.size();
  // Labels the model does not know get indices after its classes.
  std::vector<std::string> labels = result.classes;
  std::set<std::string> known(labels.begin(), labels.end()), extra;
  for (const Sample& s : v.samples) {
    if (!known.count(s.label)) extra.insert(s.label);
  }
  labels.insert(labels.end(), extra.begin(), extra.end());
  const torch::Device device = ResolveDevice(options.device);
  lo.batch_size = options.batch_size;
  lo.workers = options.workers;
  lo.max_image_pixels = options.max_image_pixels;
  lo.shuffle = false;
  lo.channels_last = true;
  lo.pin_memory = device.is_cuda();
  std::vector<Sample> samples = v.samples;
  VREPO_ASSIGN_OR_RETURN(std::unique_ptr<SampleLoader> loader,
                         SampleLoader::Create(repo.store(), std::move(samples), labels, lo));
  model->to(device);
  ToChannelsLast(*model);
  result.predictions.resize(v.samples.size());
  auto each = [&](const Batch& batch, const torch::Tensor& probs) {
    auto p = probs.accessor<float, 2>();
    for (size_t i = 0; i < batch.indices.size(); ++i) {
      size_t idx = batch.indices[i];
      const Sample& s = v.samples[idx];
      Prediction& pr = result.predictions[idx];
      pr.sample = idx;
      pr.path = s.path;
      pr.label = s.label;
      int64_t best = 0;
      for (int64_t c = 1; c < num_classes; ++c) {
        if (p[i][c] > p[i][best]) best = c;
      }
      pr.predicted = result.classes[best];
      pr.confidence = p[i][best];
      int64_t t = batch.targets[i].item<int64_t>();
      pr.label_probability = t < num_classes ? p[i][t] : 0.0;
      if (options.probabilities) pr.probabilities.assign(&p[i][0], &p[i][0] + num_classes);
    }
  };
  VREPO_ASSIGN_OR_RETURN(EvalCounts counts, RunEval(*model, *loader, device, /*bf16=*/false,
                                                    labels.size(), num_classes, each, nullptr));
  ValOutcome out = Summarize(std::move(counts), labels, num_classes);
  result.loss = out.loss;
  result.accuracy = out.accuracy;
  result.per_class_accuracy = out.per_class;
  result.confusion = out.confusion;
  return result;
}

}  // namespace

Result<EvalResult> Evaluate(Repository& repo, std::string_view weights,
                            const EvalOptions& options) {
  try {
    return EvaluateImpl(repo, weights, options);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::InvalidArgument("eval: " + what.substr(0, what.find('\n')));
  }
}

std::vector<Prediction> Suspects(const EvalResult& result, size_t n) {
  std::vector<Prediction> wrong;
  for (const Prediction& p : result.predictions) {
    if (p.predicted != p.label) wrong.push_back(p);
  }
  std::stable_sort(wrong.begin(), wrong.end(), [](const Prediction& a, const Prediction& b) {
    return a.label_probability < b.label_probability;
  });
  if (wrong.size() > n) wrong.resize(n);
  return wrong;
}

}  // namespace vrepo::train
