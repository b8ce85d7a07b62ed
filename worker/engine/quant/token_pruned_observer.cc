#include "worker/engine/quant/token_pruned_observer.h"

#include <c10/util/StringUtil.h>

#include <limits>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/granularity.h"

namespace quantd::engine::quant {

MinMaxRange TokenPrunedRange(const at::Tensor& tokens, double alpha) {
  if (tokens.numel() == 0) {
    throw QuantError("TokenPrunedRange: no tokens to observe");
  }
  if (!(alpha > 0.0 && alpha <= 1.0)) {
    throw QuantError(
        c10::str("TokenPrunedRange: alpha ", alpha, " is outside (0, 1]"));
  }
  const at::Tensor values =
      RowView(tokens.to(at::kFloat), Granularity::kPerToken, 0);
  const auto [token_min, token_max] = at::aminmax(values, /*dim=*/1);
  const at::Tensor upper_limit = at::quantile(token_max.abs(), alpha);
  const at::Tensor lower_limit = at::quantile(token_min.abs(), alpha).neg();
  const float infinity = std::numeric_limits<float>::infinity();
  at::Tensor upper =
      at::where(token_max <= upper_limit, token_max, -infinity).max();
  at::Tensor lower =
      at::where(token_min >= lower_limit, token_min, infinity).min();
  upper = at::where(at::isinf(upper), upper_limit, upper);
  lower = at::where(at::isinf(lower), lower_limit, lower);
  const auto [min, max] = at::aminmax(at::clamp(values, lower, upper));
  return {min, max};
}

TokenPrunedMinMaxObserver::TokenPrunedMinMaxObserver(double alpha)
    : alpha_(alpha), accumulator_(Accumulation::kAverage) {}

void TokenPrunedMinMaxObserver::Observe(const at::Tensor& x) {
  accumulator_.Add(TokenPrunedRange(x, alpha_));
}

}  // namespace quantd::engine::quant
