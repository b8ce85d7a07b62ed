// OmniQuant's Learnable Equivalent Transformation (LET, docs/ALGORITHMS.md
// §5.3): learnable channel scales s (and shifts δ) at the pairs of a block
// where a transformation can be absorbed exactly, applied afresh from the
// block's original tensors at every training step (so the graph reaches s
// and δ) and once more, without a graph, to fuse them:
//
//   kSite      norm → consumers (LN1 → q, k, v; LN2 → fc1 or gate, up):
//              γ' = γ ⊘ s, β' = (β − δ) ⊘ s (Post-LN: x ↦ (x − δ) ⊘ s in the
//              site's hook instead), W'[:, j] = W[:, j]·s_j, b' = b + W δ.
//   kProducer  v_proj → out_proj, the mathematically correct fc→fc form in
//              training and fusion alike (§5.3 notes the reference's
//              training path uses the norm form here):
//              W_v[j, :] /= s_j, b_v' = (b_v − δ) ⊘ s, W_o[:, j] *= s_j,
//              b_o' = b_o + W_o δ (exact because softmax rows sum to 1).
//              Only where the block names v as the producer of
//              attn_out_in, i.e. not under GQA (v has fewer output channels
//              than out_proj has inputs), as the reference assumes.
//   kQueryKey  q rows ⊘ s, k rows ⊙ s, so QKᵀ is unchanged. The scale is one
//              value per (KV head, rotary pair): the two halves of a head
//              (the rotate_half pairs of RoPE) share it, which keeps the
//              transform exact under RoPE (the reference applies it before
//              RoPE without that constraint), and each KV head's scale is
//              repeated for the query heads that share it (GQA).
//
// No pair at fc2/down_proj (the paper: unstable gradients after the
// nonlinearity). A shift only where biases absorb it (never for RMSNorm
// models such as LLaMA) and only when asked (weight-only runs: no shift).
//
// Initialisation: s from SmoothQuant's formula max|X_j|^α / max|W_j|^(1−α)
// (clamped to ≥ 1e-5), δ from OmniQuant's EMA of each sample's channel
// centre, the Q/K scale 1. Departures from the reference code: max|W_j| is
// taken over all consumers of the site and of |W| (SmoothQuant's
// definition; the reference takes the signed max of one module), and the
// statistics come from the block's FP input stream rather than from a
// separate whole-model pass (the same FP activations, gathered block-wise).
//
// Ownership: LearnableTransform keeps copies of the block's original Linear
// and Norm structs (sharing their tensors) and owns its parameters. Not
// thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/methods/block_state.h"
#include "worker/engine/methods/method.h"
#include "worker/engine/model/block.h"

namespace quantd::engine::methods {

// The attention's head layout, for the Q/K pair.
struct HeadLayout {
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
};

enum class LetKind { kSite, kProducer, kQueryKey };

struct LetPair {
  LetKind kind = LetKind::kSite;
  // kSite, kProducer: the input site; kQueryKey: attn_in (q, k consumers).
  model::InputSite site;
  // Learnable, the block's dtype: [C] (kQueryKey: [num_kv_heads,
  // head_dim / 2]).
  at::Tensor scale;
  // Learnable [C], or undefined (no shift).
  at::Tensor shift;
};

struct LetOptions {
  // False: no pairs (Apply only restores the original tensors).
  bool enabled = true;
  // SmoothQuant migration strength of the initial scale, [0, 1].
  double alpha = 0.5;
  // Shift where biases can absorb it.
  bool shift = false;
  // Add the Q/K pair (useful only when Q and K are quantized).
  bool query_key = false;
  HeadLayout heads;
};

// Per-channel statistics of one input site over the FP stream: the running
// max|X_j| over every token, and OmniQuant's centre EMA δ ← 0.99·δ +
// 0.01·(max_j + min_j)/2 over samples (the first sample sets it).
struct SiteStatistics {
  at::Tensor absmax;
  at::Tensor center;
};
using LetStatistics = std::map<model::HookPoint, SiteStatistics>;

// Statistics at attn_in, attn_out_in and mlp_in of the block as it stands
// (hooks are replaced and cleared), over `batches` [b, T, C] in order.
LetStatistics CollectLetStatistics(model::Block& block,
                                   const std::vector<at::Tensor>& batches,
                                   ContextCache& contexts);

class LearnableTransform {
 public:
  // Snapshots `block` and creates the pairs its sites allow, initialised
  // from `statistics` (which must cover the sites used).
  LearnableTransform(const model::Block& block, const LetStatistics& statistics,
                     const LetOptions& options);

  const std::vector<LetPair>& pairs() const { return pairs_; }
  // Every scale and shift tensor, in pair order.
  std::vector<at::Tensor> parameters() const;

  // OmniQuant's guard before every use: any |s| < 1e-2 becomes
  // sign(s)·1e-2 (0 becomes +1e-2), in place.
  void Truncate();

  // Restores the block's original tensors and applies every pair with the
  // current parameters (differentiable in them unless grad mode is off).
  // Returns the input transforms that Post-LN sites' hooks must apply.
  std::map<model::HookPoint, InputTransform> Apply(model::Block& block) const;

  // Truncate, then Apply without a graph: the block keeps the fused FP
  // tensors; the returned transforms hold plain tensors.
  std::map<model::HookPoint, InputTransform> Fuse(model::Block& block);

 private:
  using Layers = std::map<std::string, model::Linear>;
  using Norms = std::map<std::string, model::Norm>;

  void ApplySite(const LetPair& pair, Layers& layers, Norms& norms,
                 std::map<model::HookPoint, InputTransform>& hooks) const;
  void ApplyProducer(const LetPair& pair, Layers& layers) const;
  void ApplyQueryKey(const LetPair& pair, Layers& layers) const;

  Layers linears_;
  Norms norms_;
  std::vector<LetPair> pairs_;
  HeadLayout heads_;
};

}  // namespace quantd::engine::methods
