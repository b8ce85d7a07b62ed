// The OS+ outlier-threshold search (docs/ALGORITHMS.md §2.3): for one input
// site, the per-channel scale s(t) = max(1, cmax_j / t, cmin_j / −t) of the
// (shifted) activation is parameterised by one threshold t, and t is chosen
// on a grid from T down to a lower bound by the loss
//
//   L(t) = mean over tokens of Σ_out (F(Q_a(X ⊘ s), Q_w(W ⊙ s)) − F(X, W))²
//
// with F the site's function after its consumers (Block::SiteForward: the
// attention context for q/k/v, act(gate) ⊙ up for gate/up) or the plain
// X Wᵀ for a single-consumer site (fc1: bias and activation omitted, as the
// spec says). Candidates are evaluated several at a time, stacked along a
// new leading dimension, on a deterministic token subsample.
//
// Ownership: ThresholdSearch refers to the block and context cache it is
// given (they must outlive it) and owns its prepared tensors. Not
// thread-safe (the context cache is shared).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "worker/engine/methods/method.h"
#include "worker/engine/model/block.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::methods {

enum class SiteFunctionKind {
  kLinear,       // X Wᵀ over the concatenated consumers, no bias.
  kElementwise,  // SiteForward of an MLP input with several consumers.
  kAttention,    // SiteForward of attn_in: the attention context.
};

SiteFunctionKind SiteFunctionKindOf(const model::InputSite& site);

struct ThresholdSearchInput {
  const model::Block* block = nullptr;
  const model::InputSite* site = nullptr;
  // The (already shifted) activation of the statistics batch, [b, T, C]:
  // the channel statistics come from all of it.
  at::Tensor activation;
  // The site's consumers: shift-updated biases, unscaled FP weights.
  std::vector<model::Linear> consumers;
  quant::QuantConfig weight;
  quant::QuantConfig activation_quant;
  // Smallest threshold tried (1.0 for shifted LayerNorm sites, 0.1
  // otherwise, as OS+ uses for OPT and LLaMA).
  double lower_bound = 1.0;
  // Tokens the loss is averaged over: a fixed uniform draw without
  // replacement (whole sequences, the first ones, for attention); 0 or
  // less: every token of the statistics batch, as the reference does.
  int64_t search_tokens = 4096;
  // Cap on the grid's K (0: none, as the reference).
  int64_t max_candidates = 0;
  // Coarse-to-fine factor f (≤ 1: every candidate, as the reference). With
  // f ≥ 2 the grid is evaluated at stride f^m (the largest with f^(m+2) ≤
  // K, plus the last candidate), then within ±stride of the best so far at
  // stride/f, down to stride 1: about (f + 1)·(m + 1) candidates instead
  // of K. The choice is a local minimum of the grid's curve, not
  // necessarily the global one.
  int64_t coarse_to_fine = 0;
  // Candidates stacked into one evaluation.
  int64_t candidates_per_batch = 8;
  ContextCache* contexts = nullptr;
};

struct ThresholdChoice {
  double threshold = 0.0;
  at::Tensor scale;          // s(threshold), [C].
  double loss_before = 0.0;  // L(T): s = 1, range ±T.
  double loss_after = 0.0;   // L(threshold).
  int64_t candidates = 0;
  // L(t) for every candidate of thresholds(), in grid order (the curve the
  // choice was made on; one entry, L(T), when the grid is empty). NaN where
  // a coarse-to-fine search did not evaluate the candidate.
  std::vector<double> losses;
};

// The grid: T = max(−a_minus, a_plus), K = max(100, ⌊a_plus / 0.5⌋),
// capped at max_candidates when that is positive (a departure: the
// reference has no cap), step = (T − lower_bound) / K, t = T, T − step, ...
// while t ≥ lower_bound (in double precision). Empty when T < lower_bound.
std::vector<double> CandidateThresholds(double a_plus, double a_minus,
                                        double lower_bound,
                                        int64_t max_candidates = 0);

// s_j(t) = max(1, cmax_j / t, −cmin_j / t), float32 like the inputs.
at::Tensor OutlierScale(const at::Tensor& channel_min,
                        const at::Tensor& channel_max, double threshold);

class ThresholdSearch {
 public:
  // Prepares the subsample, the FP reference and the channel statistics.
  // Throws MethodError for inconsistent shapes.
  explicit ThresholdSearch(ThresholdSearchInput input);

  const std::vector<double>& thresholds() const { return thresholds_; }
  const at::Tensor& channel_min() const { return channel_min_; }
  const at::Tensor& channel_max() const { return channel_max_; }

  // L(t) for each threshold, `per_batch` candidates per evaluation.
  std::vector<double> Losses(std::span<const double> thresholds,
                             int64_t per_batch) const;
  // L(t) for one threshold through SiteForward with real quantized layers:
  // the one-at-a-time reference the batched evaluation must equal.
  double DirectLoss(double threshold) const;

  // Evaluates the grid (all of it, or coarse to fine) and picks the first
  // strict minimum of the evaluated candidates (ties keep the larger t).
  ThresholdChoice Run() const;

  // Tokens of the statistics batch the loss is taken over, as indices into
  // the flattened [b·T] tokens, in order.
  const at::Tensor& sample_index() const { return sample_index_; }

  // Writes the search's inputs and outcome to `dir` (created) for an
  // independent re-computation (tests/reference/osplus): meta.json (site,
  // kind, quantizer settings, grid, curve, choice, plus `extra`), and
  // NumPy files x.npy (the activation, [b, T, C]), sample_index.npy,
  // weight.npy (the consumers' rows concatenated), bias.npy when every
  // consumer has one, scale.npy (the chosen s).
  void Dump(const ThresholdChoice& choice, const std::filesystem::path& dir,
            const nlohmann::json& extra) const;

 private:
  // The token subsample and its FP reference F(sample).
  void PrepareSample();
  at::Tensor QuantizeActivations(const at::Tensor& x,
                                 std::span<const double> thresholds) const;
  at::Tensor QuantizeWeights(const at::Tensor& weights) const;
  // F of stacked candidates: x [K, ..., C], weights [K, O_tot, C] ->
  // [K, tokens, O].
  at::Tensor StackedForward(const at::Tensor& x,
                            const at::Tensor& weights) const;
  at::Tensor LossOf(const at::Tensor& output) const;
  // L(t) at the grid positions of a coarse-to-fine search, NaN elsewhere.
  std::vector<double> CoarseToFineLosses() const;

  ThresholdSearchInput input_;
  SiteFunctionKind kind_;
  at::Tensor channel_min_, channel_max_;  // [C], float32.
  std::vector<double> thresholds_;
  double t_max_ = 0.0;
  at::Tensor sample_;        // kAttention: [b', T, C]; otherwise [n, C].
  at::Tensor sample_index_;  // [tokens] int64, into the flat [b·T].
  at::Tensor reference_;     // F(sample) as [tokens, O].
  at::Tensor weight_cat_;    // [O_tot, C].
  at::Tensor bias_cat_;      // [O_tot] or undefined.
  std::vector<int64_t> out_sizes_;
};

}  // namespace quantd::engine::methods
