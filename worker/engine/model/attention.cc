#include "worker/engine/model/attention.h"

#include <limits>

namespace quantd::engine::model {

at::Tensor SplitHeads(const at::Tensor& x, int64_t num_heads) {
  return x.view({x.size(0), x.size(1), num_heads, -1}).transpose(1, 2);
}

at::Tensor ProjectHeads(const Linear& projection, const at::Tensor& x,
                        int64_t num_heads, const ForwardContext& context) {
  return SplitHeads(projection.Forward(x, context.matmul_dtype), num_heads);
}

at::Tensor MergeHeads(const at::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), -1});
}

at::Tensor RepeatKv(const at::Tensor& x, int64_t repeats) {
  if (repeats == 1) return x;
  int64_t batch = x.size(0), heads = x.size(1), seq = x.size(2),
          dim = x.size(3);
  return x.unsqueeze(2)
      .expand({batch, heads, repeats, seq, dim})
      .reshape({batch, heads * repeats, seq, dim});
}

namespace {

// softmax(scale·QKᵀ + mask)·V spelled out, as HF's eager attention does.
at::Tensor ExplicitAttention(const at::Tensor& q, const at::Tensor& k,
                             const at::Tensor& v, const ForwardContext& context,
                             double scale, const ActivationHook* probs_hook) {
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
  if (context.attention_bias.defined()) {
    scores = scores + context.attention_bias;
  } else if (context.causal) {
    int64_t seq = q.size(2);
    at::Tensor future =
        at::ones({seq, seq}, q.options().dtype(at::kBool)).triu(/*diagonal=*/1);
    scores =
        scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  at::Tensor probs = at::softmax(scores, -1);
  if (probs_hook != nullptr && *probs_hook) probs = (*probs_hook)(probs);
  return at::matmul(probs, v);
}

}  // namespace

at::Tensor AttentionContext(const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v, const ForwardContext& context,
                            double scale, const ActivationHook* probs_hook) {
  int64_t repeats = q.size(1) / k.size(1);
  at::Tensor keys = RepeatKv(k, repeats);
  at::Tensor values = RepeatKv(v, repeats);
  bool explicit_path =
      !context.fused_attention || (probs_hook != nullptr && *probs_hook);
  at::Tensor out;
  if (explicit_path) {
    out = ExplicitAttention(q, keys, values, context, scale, probs_hook);
  } else {
    std::optional<at::Tensor> mask;
    if (context.attention_bias.defined()) mask = context.attention_bias;
    out = at::scaled_dot_product_attention(
        q, keys, values, mask, /*dropout_p=*/0.0,
        /*is_causal=*/context.causal && !mask.has_value(), scale);
  }
  return MergeHeads(out);
}

}  // namespace quantd::engine::model
