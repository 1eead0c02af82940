#include "vrepo/train/sync_batch_norm.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include <algorithm>
#include <array>
#include <ios>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

// As libtorch 1.13 prints it.
template <>
void torch::nn::BatchNormImplBase<2, torch::nn::BatchNorm2dImpl>::pretty_print(
    std::ostream& stream) const {
  stream << std::boolalpha << "torch::nn::BatchNorm2d(" << options.num_features()
         << ", eps=" << options.eps() << ", momentum=";
  if (options.momentum().has_value()) {
    stream << *options.momentum();
  } else {
    stream << "None";
  }
  stream << ", affine=" << options.affine()
         << ", track_running_stats=" << options.track_running_stats() << ")";
}

namespace vrepo::train {
namespace {

// The dimensions a batch norm reduces over: all but the channels of [N, C, H, W].
constexpr std::array<int64_t, 3> kSyncBnDims = {0, 2, 3};

// Sums `t` over the ranks of `group` in place.
void SyncBnSum(c10d::ProcessGroup& group, torch::Tensor& t) {
  std::vector<torch::Tensor> tensors = {t};
  group.allreduce(tensors, c10d::AllreduceOptions{})->wait();
}

// The backward of SyncBnAllReduce: each rank's statistics feed every rank's output, so the
// gradient of the summed loss with respect to them is the sum of all ranks' gradients.
// A hand-written node because torch::autograd::Function's context cannot hold the group.
class SyncBnAllReduceBackward : public torch::autograd::Node {
 public:
  explicit SyncBnAllReduceBackward(c10::intrusive_ptr<c10d::ProcessGroup> group)
      : group_(std::move(group)) {}

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    // An undefined gradient still enters the collective (as zeros): the other ranks wait for it.
    torch::Tensor sum =
        grads[0].defined() ? grads[0].contiguous().clone() : input_metadata(0).zeros_like();
    SyncBnSum(*group_, sum);
    return {sum};
  }
  std::string name() const override { return "SyncBnAllReduceBackward"; }

 private:
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
};

// The sum of `local` over the ranks, differentiable: its backward is again a sum over ranks.
torch::Tensor SyncBnAllReduce(const torch::Tensor& local,
                              const c10::intrusive_ptr<c10d::ProcessGroup>& group) {
  torch::Tensor sum = local.detach().contiguous().clone();
  SyncBnSum(*group, sum);
  if (torch::autograd::compute_requires_grad(local)) {
    auto node = std::shared_ptr<SyncBnAllReduceBackward>(new SyncBnAllReduceBackward(group),
                                                         torch::autograd::deleteNode);
    node->set_next_edges(torch::autograd::collect_next_edges(local));
    torch::autograd::set_history(sum, node);
  }
  return sum;
}

}  // namespace

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& input) {
  if (!group_ || !is_training() || group_->getSize() < 2) {
    return torch::nn::BatchNorm2dImpl::forward(input);
  }
  _check_input_dim(input);
  const int64_t channels = options.num_features();
  TORCH_CHECK(input.size(1) == channels, "batch norm of ", channels, " channels got input ",
              input.sizes());
  const int64_t count = input.size(0) * input.size(2) * input.size(3);

  // Each rank sends its count and, per channel, count * mean and count * (var + mean^2); their
  // sums give the global moments. The local moments come from torch's one-pass var_mean and
  // are combined in float64, where E[x^2] - E[x]^2 loses nothing that matters.
  torch::Tensor mean, var;
  if (count > 0) {
    std::tie(var, mean) = torch::var_mean(input, kSyncBnDims, /*unbiased=*/false);
  } else {
    // Zeros that still hang on the input's graph, so that this rank's backward enters the
    // collective as the others' do.
    mean = input.sum(kSyncBnDims);
    var = mean;
  }
  const auto n = static_cast<double>(count);
  mean = mean.to(torch::kFloat64);
  var = var.to(torch::kFloat64);
  torch::Tensor local =
      torch::cat({mean * n, (var + mean * mean) * n, torch::full({1}, n, mean.options())});
  torch::Tensor global = SyncBnAllReduce(local, group_);
  const double total = global[2 * channels].item<double>();
  TORCH_CHECK(total != 1, "Expected more than 1 value per channel when training, got ",
              "1 over all ranks (input size ", input.sizes(), " here)");
  // No rank has a sample: outputs are empty and the running stats stay as they are.
  const double divisor = std::max(total, 1.0);
  torch::Tensor global_mean = global.slice(0, 0, channels) / divisor;
  torch::Tensor global_var =
      (global.slice(0, channels, 2 * channels) / divisor - global_mean * global_mean).clamp_min(0);

  if (options.track_running_stats() && num_batches_tracked.defined()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked += 1;
    const double factor = options.momentum().has_value() ? *options.momentum()
                                                         : 1.0 / num_batches_tracked.item<double>();
    if (total > 0) {
      // As torch updates them: in float64, with the global unbiased variance.
      torch::Tensor unbiased = global_var.detach() * (total / (total - 1));
      running_mean.copy_(running_mean.to(torch::kFloat64) * (1 - factor) +
                         global_mean.detach() * factor);
      running_var.copy_(running_var.to(torch::kFloat64) * (1 - factor) + unbiased * factor);
    }
  }

  // y = x * scale + shift, the form of torch's own CPU kernel.
  torch::Tensor scale = (global_var + options.eps()).rsqrt();
  torch::Tensor shift = -global_mean * scale;
  if (weight.defined()) {
    scale = scale * weight.to(torch::kFloat64);
    shift = bias.to(torch::kFloat64) - global_mean * scale;
  }
  const std::array<int64_t, 4> shape = {1, channels, 1, 1};
  return torch::addcmul(shift.to(input.scalar_type()).view(shape), input,
                        scale.to(input.scalar_type()).view(shape));
}

void SetSyncBatchNorm(torch::nn::Module& model, c10::intrusive_ptr<c10d::ProcessGroup> group) {
  model.apply([&group](torch::nn::Module& m) {
    if (auto* bn = m.as<BatchNorm2dImpl>()) bn->set_group(group);
  });
}

}  // namespace vrepo::train
