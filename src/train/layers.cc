#include "vrepo/train/layers.h"

#include <utility>

namespace vrepo::train {
namespace {

template <class Layer>
void Install(Layer& layer, std::shared_ptr<AdapterImpl>& slot,
             std::shared_ptr<AdapterImpl> adapter) {
  if (slot) layer.unregister_module(kAdapterName);
  slot = std::move(adapter);
  if (slot) layer.register_module(kAdapterName, slot);
}

}  // namespace

torch::Tensor AdaptedConv2dImpl::forward(const torch::Tensor& input) {
  torch::Tensor out = Conv2dImpl::forward(input);
  return adapter_ ? out + adapter_->forward(input) : out;
}

void AdaptedConv2dImpl::SetAdapter(std::shared_ptr<AdapterImpl> adapter) {
  Install(*this, adapter_, std::move(adapter));
}

torch::Tensor AdaptedLinearImpl::forward(const torch::Tensor& input) {
  torch::Tensor out = LinearImpl::forward(input);
  return adapter_ ? out + adapter_->forward(input) : out;
}

void AdaptedLinearImpl::SetAdapter(std::shared_ptr<AdapterImpl> adapter) {
  Install(*this, adapter_, std::move(adapter));
}

}  // namespace vrepo::train
