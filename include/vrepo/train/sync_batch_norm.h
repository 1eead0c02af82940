// Batch norm whose training statistics can span the ranks of a data-parallel job, with
// torch.nn.SyncBatchNorm's semantics. Every model of MakeModel builds its batch norms as the
// BatchNorm2d below; SetSyncBatchNorm points them at a process group. A module is used by one
// thread, and every rank must run the same forward and backward passes, since each synchronized
// layer enters one collective in each.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstddef>
#include <ostream>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <utility>

// libtorch defines this member in a .cpp file and does not export it (pytorch/pytorch#98907),
// yet the vtables of every class derived from torch::nn::BatchNorm2dImpl name it;
// sync_batch_norm.cc defines it.
template <>
void torch::nn::BatchNormImplBase<2, torch::nn::BatchNorm2dImpl>::pretty_print(
    std::ostream& stream) const;

namespace vrepo::train {

// torch's BatchNorm2d with the same parameters, buffers and state-dict names
// (`as<torch::nn::BatchNorm2d>()` finds it), and an optional process group.
class BatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;

  // With a group of two or more ranks and in training mode: normalizes with the statistics of
  // the global batch (one allreduce forward, one backward). Otherwise torch's forward.
  torch::Tensor forward(const torch::Tensor& input);

  // A null group ({}): per-rank statistics.
  void set_group(c10::intrusive_ptr<c10d::ProcessGroup> group) { group_ = std::move(group); }
  const c10::intrusive_ptr<c10d::ProcessGroup>& group() const { return group_; }

 private:
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
};
TORCH_MODULE(BatchNorm2d);

// Makes every batch-norm layer of `model` normalize, in training mode, with the mean and
// variance over the whole global batch of all ranks of `group` (torch.nn.SyncBatchNorm's
// semantics: running stats updated with the global unbiased variance; gradients flow through
// the global statistics). nullptr group: back to per-rank statistics. Only layers of the type
// above are reached; torch's own batch-norm types keep per-rank statistics.
void SetSyncBatchNorm(torch::nn::Module& model, c10::intrusive_ptr<c10d::ProcessGroup> group);
inline void SetSyncBatchNorm(torch::nn::Module& model, std::nullptr_t /*group*/) {
  SetSyncBatchNorm(model, c10::intrusive_ptr<c10d::ProcessGroup>());
}

}  // namespace vrepo::train
