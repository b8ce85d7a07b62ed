// The two searches of AWQ (docs/AWQ.md) that do not need a block, as plain
// tensor functions:
//   * the activation-aware scale of an input site, s = mean|x|^α clamped to
//     ≥ 1e-4 and normalised by √(max s · min s), and the α grid i/grid;
//   * the weight clipping search: per output group, the range max|w| is
//     shrunk by ratios 1 − i/clip_grid and the ratio whose fake-quantized
//     group gives the smallest output error on the captured inputs is kept.
//     The error of a group is its partial dot products' squared error over
//     the tokens, dᵀ G_g d, with G = Σ x xᵀ the Gram matrix of the Linear's
//     input and G_g its diagonal block; a row whose total output error the
//     combined choice would raise keeps its unclipped weights.
//
// Stateless functions; thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::methods {

// The α candidates i/grid for i = 0..grid−1 (the reference's grid: α = 0,
// the plain RTN scale s = 1, first; α = 1 excluded). grid ≥ 1.
std::vector<double> AlphaGrid(int64_t grid);

// s for per-channel mean |x| `mean_abs` [C] (≥ 0, finite) and exponent α;
// exactly 1 everywhere for α = 0. float32 [C], > 0.
at::Tensor AwqScale(const at::Tensor& mean_abs, double alpha);

struct ClipOptions {
  // Ratios 1 − i/grid for i = 0..max(1, ⌊max_shrink · grid⌋) − 1, i.e. from
  // 1 (no clipping) down to just above 1 − max_shrink. grid ≥ 1,
  // max_shrink in [0, 1].
  int64_t grid = 20;
  double max_shrink = 0.5;
};

std::vector<double> ClipRatios(const ClipOptions& options);

struct ClipResult {
  // The weight clamped to ±ratio · max|w| of each group, float32 [out, in];
  // the input itself when the config does not allow clipping.
  at::Tensor weight;
  // The chosen ratio per output group [out, groups] (1: not clipped).
  at::Tensor ratio;
  // Mean squared output error per output element and token,
  // ‖(Q(W') − W) Xᵀ‖² / (N · out), without and with the clipping.
  double error_before = 0.0;
  double error_after = 0.0;
};

// Searches the clipping of `weight` [out, in] for the fake quantizer
// `config` given the Gram matrix `gram` = Σ x xᵀ [in, in] (float64) of
// `tokens` input rows. Per-group configs clip per group, per-channel ones
// per row; per-tensor and disabled configs are returned unclipped (a
// per-tensor range is not a per-row choice). Throws MethodError on
// mismatched shapes.
ClipResult SearchWeightClip(const at::Tensor& weight, const at::Tensor& gram,
                            int64_t tokens, const quant::QuantConfig& config,
                            const ClipOptions& options);

// Σ_tokens (x·(q_o − w_o))² per output row o, from the Gram matrix: the
// diagonal of (Q − W) G (Q − W)ᵀ, float64 [out].
at::Tensor RowOutputErrors(const at::Tensor& weight,
                           const at::Tensor& quantized, const at::Tensor& gram);

}  // namespace quantd::engine::methods
