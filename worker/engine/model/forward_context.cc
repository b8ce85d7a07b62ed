#include "worker/engine/model/forward_context.h"

#include <limits>

namespace quantd::engine::model {

ForwardContext MakeMaskContext(const at::Tensor& ids,
                               const at::Tensor& token_mask, bool causal,
                               int64_t sliding_window) {
  ForwardContext context;
  context.batch_size = ids.size(0);
  context.seq_len = ids.size(1);
  context.causal = causal;
  at::Tensor mask;
  if (token_mask.defined()) {
    mask = token_mask.to(ids.device()).to(at::kBool);
    if (mask.all().item<bool>()) mask = at::Tensor();
  }
  bool windowed = sliding_window > 0 && context.seq_len > sliding_window;
  if (!mask.defined() && !windowed) return context;
  int64_t seq = context.seq_len;
  at::TensorOptions bool_options = ids.options().dtype(at::kBool);
  // allowed[b, 1, q, k]: query q may attend key k.
  at::Tensor allowed = at::ones({1, 1, seq, seq}, bool_options);
  if (mask.defined()) {
    context.token_mask = mask;
    allowed = allowed.logical_and(mask.view({context.batch_size, 1, 1, seq}));
  }
  if (causal)
    allowed = allowed.logical_and(allowed.new_ones({seq, seq}).tril());
  if (windowed) {
    allowed = allowed.logical_and(
        allowed.new_ones({seq, seq}).triu(-(sliding_window - 1)));
  }
  // The lowest finite float, as HF uses, so a fully masked row (a padding
  // query) softmaxes to a uniform row instead of NaN.
  at::Tensor zeros = at::zeros({}, ids.options().dtype(at::kFloat));
  context.attention_bias = zeros.masked_fill(
      allowed.logical_not(), std::numeric_limits<float>::lowest());
  return context;
}

}  // namespace quantd::engine::model
