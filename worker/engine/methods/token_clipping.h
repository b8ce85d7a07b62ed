// OS's coarse token-wise clipping (docs/ALGORITHMS.md §3.2), shared by OS
// and by OS+'s BERT setting (§2.4: "OS+ is combined with OS token-wise
// clipping"): static per-tensor activation ranges come from the
// token-pruned observer, whose quantile α is searched on OS's grid by the
// MSE of the block's quantized output against its FP output.
//
// Block-wise departure from the reference: α is chosen per block on the
// block's output over all calibration batches (the reference searches one
// α for the whole model on its logits).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "worker/engine/methods/block_session.h"

namespace quantd::engine::methods {

// Whether a config has static per-tensor ranges that clipping applies to.
bool ClipsTokens(const quant::QuantConfig& config);

// The plan with the token-pruned observer on every clippable quantizer but
// the attention probabilities (which OS never prunes).
ActivationPlan WithTokenClipping(ActivationPlan plan);

// OS's grid: α = 1, 1 − step, ... with step = min(0.01, 2 significant
// digits of 128·32·0.01 / (batch·seq_len)) over a span of 0.1 (8 bits),
// 0.3 (6–7 bits) or 0.9 (fewer).
std::vector<double> ClippingGrid(int bits, int64_t batch, int64_t seq_len);

// Replaces BlockSession::CalibrateActivations: for each α, observe every
// batch in FP with quantile α, freeze, and score the quantized block
// against `target` (the FP block's outputs per batch); keeps the best α
// (ties: the larger) and reports it as the figure "blocks.<i>.token_clipping".
void SearchTokenClipping(BlockSession& session,
                         const std::vector<at::Tensor>& target);

}  // namespace quantd::engine::methods
