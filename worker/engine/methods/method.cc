#include "worker/engine/methods/method.h"

namespace quantd::engine::methods {

void SetScaleFigures(LayerFigure& figure, const at::Tensor& scale) {
  at::Tensor values = scale.to(at::kCPU, at::kDouble);
  figure.scale_min = values.min().item<double>();
  figure.scale_max = values.max().item<double>();
  figure.scale_mean = values.mean().item<double>();
}

const model::ForwardContext& ContextCache::For(int64_t batch_size) {
  auto found = contexts_.find(batch_size);
  if (found != contexts_.end()) return found->second;
  at::Tensor ids = at::zeros({batch_size, seq_len_}, at::kLong);
  return contexts_.emplace(batch_size, model_.MakeContext(ids)).first->second;
}

}  // namespace quantd::engine::methods
