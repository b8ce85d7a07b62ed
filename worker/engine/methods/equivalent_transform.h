// Equivalent transformations of a block (docs/ALGORITHMS.md §2.1, §3.1,
// §4): the activation X at an input site becomes X̃ = (X − z) ⊘ s and the
// site's consumers compensate so the FP block computes the same function:
//
//   W'[:, j] = W[:, j]·s_j        b' = b + W z   (the ORIGINAL W)
//
// Where X̃ comes from:
//   * a site produced by a norm of this block that does not feed the
//     residual (Pre-LN): the norm itself, γ' = γ ⊘ s, β' = (β − z) ⊘ s;
//   * a Post-LN site (the residual stream reads X too): the transform is
//     returned as an InputTransform that the site's activation hook applies
//     before quantization, so the residual keeps reading X. This is the
//     residual compensation x ↦ x̃ ⊙ s + z of OS+ folded into the hook.
//   * a site with a producer (attn_out_in / mlp_out_in): producer rows and
//     bias divided by s (s > 0, scale only), via ScaleThroughProducer.
//
// Every function replaces tensors rather than writing into them, so copies
// of the old Linear/Norm structs keep the old values (block snapshots rely
// on this). Throws MethodError on a request the site cannot absorb.
#pragma once

#include <ATen/ATen.h>

#include "worker/engine/methods/block_state.h"
#include "worker/engine/model/block.h"

namespace quantd::engine::methods {

// A norm to fold into or a Post-LN site whose hook can carry the transform.
bool CanScaleSite(const model::InputSite& site);
// CanScaleSite, every consumer has a bias, and (folded case) the norm has a
// bias: the shift needs both to be absorbed exactly.
bool CanShiftSite(const model::Block& block, const model::InputSite& site);

// Applies X̃ = (X − shift) ⊘ scale at `site` (shift may be undefined; scale
// must be finite and non-zero, [C]). Returns the transform the site's hook
// must apply: empty when it was folded into the norm.
InputTransform TransformSite(model::Block& block, const model::InputSite& site,
                             const at::Tensor& shift, const at::Tensor& scale);

// Producer-row variant: producer rows (and bias) ⊘ scale, consumer columns
// ⊙ scale; scale must be > 0 (the producer's map is only positively
// homogeneous). Throws MethodError when the site has no producer.
void ScaleThroughProducer(model::Block& block, const model::InputSite& site,
                          const at::Tensor& scale);

// The consumers of `site` with columns ⊙ scale and bias += W shift (either
// may be undefined), without touching the block.
std::vector<model::Linear> TransformedConsumers(const model::Block& block,
                                                const model::InputSite& site,
                                                const at::Tensor& shift,
                                                const at::Tensor& scale);

}  // namespace quantd::engine::methods
