#include "contract/accuracy_target.h"

#include <cmath>
#include <sstream>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

std::string Format(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

void CheckTarget(const TargetBound& bound, size_t fallbacks, bool encoder,
                 bool evaluation_skipped) {
  const char* wanted =
      encoder ? "target.min_cosine" : "target.max_perplexity_increase";
  const char* other =
      encoder ? "target.max_perplexity_increase" : "target.min_cosine";
  const double value =
      encoder ? bound.min_cosine : bound.max_perplexity_increase;
  const double unwanted =
      encoder ? bound.max_perplexity_increase : bound.min_cosine;
  const char* metric = encoder ? "cosine" : "perplexity";
  if (unwanted != 0.0) {
    throw ContractError(other, std::string("this model is measured by ") +
                                   metric + "; set " + wanted + " instead");
  }
  const double high = encoder ? 1.0 : kMaxPerplexityIncrease;
  if (!(value > 0.0 && value <= high)) {
    throw ContractError(
        wanted, "must be in (0, " + Format(high) + "], got " + Format(value));
  }
  if (fallbacks > kMaxFallbacks) {
    throw ContractError("target.fallbacks",
                        "at most " + std::to_string(kMaxFallbacks) + ", got " +
                            std::to_string(fallbacks));
  }
  if (evaluation_skipped) {
    throw ContractError("evaluation.skip",
                        "a job with a target needs its evaluation");
  }
}

bool MeetsTarget(const TargetBound& bound, double fp, double quantized) {
  if (bound.min_cosine > 0.0) return quantized >= bound.min_cosine;
  return quantized <= fp * (1.0 + bound.max_perplexity_increase);
}

std::string FallbackField(size_t index) {
  return "target.fallbacks[" + std::to_string(index) + "]";
}

}  // namespace quantd::contract
