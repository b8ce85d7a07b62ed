// Accuracy targets (docs/TARGETS.md): the rules of JobSpec.target, checked
// by quantd at submit and by quantd-engine on spec.json, and the one test
// of whether an attempt met its bound.
//
// Plain values and functions; no LibTorch, gRPC or protobuf. Thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace quantd::contract {

inline constexpr size_t kMaxFallbacks = 8;
// The largest relative perplexity increase a target may allow (+1000 %).
inline constexpr double kMaxPerplexityIncrease = 10.0;

// The bound of a target; exactly one field is set (non-zero).
struct TargetBound {
  // Decoders: largest relative increase of perplexity over FP (0.02: +2 %).
  double max_perplexity_increase = 0.0;
  // Encoders: smallest cosine to the FP embeddings.
  double min_cosine = 0.0;
};

// Throws ContractError naming the field: exactly one bound
// ("target.max_perplexity_increase" in (0, 10] for decoders,
// "target.min_cosine" in (0, 1] for encoders; the other one must be 0), at
// most kMaxFallbacks fallbacks ("target.fallbacks"), and an evaluation to
// measure it with ("evaluation.skip").
void CheckTarget(const TargetBound& bound, size_t fallbacks, bool encoder,
                 bool evaluation_skipped);

// Whether an attempt measuring `quantized` against `fp` meets the bound
// (a NaN never does).
bool MeetsTarget(const TargetBound& bound, double fp, double quantized);

// "target.fallbacks[2]": the field prefix of fallback `index`.
std::string FallbackField(size_t index);

}  // namespace quantd::contract
