// The GPTQ solver (Frantar et al., 2022; docs/GPTQ.md) for one Linear: given
// its weight W [out, in] and the Hessian H = 2·XXᵀ/N [in, in] of its
// calibration inputs, rounds W one column at a time, in blocks with lazy
// batch updates, feeding each column's rounding error back into the columns
// not yet quantized through the upper Cholesky factor of (H + λI)⁻¹. Also
// the streaming accumulation of H over calibration batches.
//
// Pure functions of their arguments (no model, no block): the quantizer is
// the engine's own (quant::ComputeQParams on a MinMax range, then
// quant::FakeQuantize), so with H = I the result is exactly RTN's.
// Arithmetic is float64; the rounding itself is float32, as everywhere.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::methods {

struct GptqOptions {
  // λ = dampening_percent · mean(diag H), added to the diagonal before the
  // inverse (the reference's `percdamp`). >= 0; default 0.01.
  double dampening_percent = 0.01;
  // Columns per lazy batch update, >= 1; default 128. Speed only: the
  // result does not depend on it.
  int64_t block_size = 128;
  // Quantize columns in order of decreasing diag(H) (desc_act).
  bool act_order = false;
  // Per-group weights: each group's (Δ, zp) from the weight before the
  // sweep instead of from the error-updated weight at the group's first
  // column. Required with act_order, so that the groups stay contiguous in
  // the original column order (what the exporters write).
  bool static_groups = false;
  // A failed Cholesky (H + λI not positive definite in float64) or a
  // non-finite result is retried with dampening_percent raised tenfold (to
  // 0.01 from 0), at most this many times. >= 0.
  int max_dampening_retries = 8;
};

struct GptqResult {
  // Fake-quantized weight, float32 [out, in], on the input's device.
  at::Tensor weight;
  // (Δ, zp) in the config's granularity layout (per_group: row-major over
  // (output row, group)), such that FakeQuantize(weight, qparams) == weight.
  quant::QParams qparams;
  // The dampening the successful solve used, and how many times it was
  // raised to get there (0: as asked).
  double dampening_percent = 0.0;
  int dampening_retries = 0;
  // Input channels with diag(H) <= 0 (never seen a non-zero input): their
  // weights are set to zero before quantization, as the reference does.
  int64_t dead_columns = 0;
};

// Quantizes `weight` [out, in] for `config` (static, per_tensor,
// per_channel or per_group, MinMax-style observer) given `hessian`
// [in, in]. A disabled config returns the weight unchanged. Throws
// MethodError for mismatched shapes, a non-finite weight or Hessian, an
// unsupported config, act_order with non-static groups, or when every
// dampening retry failed.
GptqResult SolveGptq(const at::Tensor& weight, const at::Tensor& hessian,
                     const quant::QuantConfig& config,
                     const GptqOptions& options);

// The layer's mean squared output error over the calibration inputs,
// ‖(W − Q)X‖² / (N · out) = tr((W − Q) H (W − Q)ᵀ) / (2 · out), with H as
// HessianAccumulator builds it. float64.
double LayerOutputError(const at::Tensor& weight, const at::Tensor& quantized,
                        const at::Tensor& hessian);

// H = 2 · Σ x xᵀ / N over the rows x of every batch added (N rows in all),
// accumulated in float64 without keeping the batches. Not thread-safe.
class HessianAccumulator {
 public:
  // Adds the rows of x [..., columns].
  void Add(const at::Tensor& x);
  int64_t rows() const { return rows_; }
  // float64 [columns, columns]; throws MethodError before any row.
  at::Tensor Hessian() const;

 private:
  at::Tensor sum_;
  int64_t rows_ = 0;
};

}  // namespace quantd::engine::methods
