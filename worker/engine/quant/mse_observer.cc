#include "worker/engine/quant/mse_observer.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>

#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/granularity.h"
#include "worker/engine/quant/qparams.h"

namespace quantd::engine::quant {
namespace {

// Candidates are scored in chunks of at most this many elements of x̂.
constexpr int64_t kMaxCandidateElements = int64_t{1} << 22;

struct SearchState {
  at::Tensor min;    // [R] best range so far.
  at::Tensor max;    // [R]
  at::Tensor score;  // [R] its mean squared error.
};

// cand_min/cand_max [C, R] give C candidate ranges for every row; returns
// the mean squared fake-quantization error of each, [C, R].
at::Tensor ScoreCandidates(const at::Tensor& rows, const at::Tensor& cand_min,
                           const at::Tensor& cand_max,
                           const QParamsRule& rule) {
  const QParams q = ComputeQParams({cand_min, cand_max}, rule);
  const at::Tensor x = rows.unsqueeze(0);
  const at::Tensor quantized = FakeQuantize(
      x, q.scale.unsqueeze(2), q.zero_point.unsqueeze(2), q.qmin, q.qmax);
  return (quantized - x).pow(2).mean(2);
}

// Keeps, for every row in row_mask, the first best candidate if it is
// strictly better than the current best.
void Update(SearchState& state, const at::Tensor& scores,
            const at::Tensor& cand_min, const at::Tensor& cand_max,
            const at::Tensor& row_mask) {
  const at::Tensor index = at::argmin(scores, 0).unsqueeze(0);
  const at::Tensor score = scores.gather(0, index).squeeze(0);
  const at::Tensor better = at::logical_and(score < state.score, row_mask);
  state.min =
      at::where(better, cand_min.gather(0, index).squeeze(0), state.min);
  state.max =
      at::where(better, cand_max.gather(0, index).squeeze(0), state.max);
  state.score = at::where(better, score, state.score);
}

// Runs `count` candidates, produced `chunk` at a time by make(first, n) as
// [n, R] (min, max) pairs, through ScoreCandidates and Update.
void SearchCandidates(
    const at::Tensor& rows, const QParamsRule& rule, const at::Tensor& mask,
    int64_t count,
    const std::function<MinMaxRange(int64_t first, int64_t n)>& make,
    SearchState& state) {
  const int64_t chunk = std::clamp<int64_t>(
      kMaxCandidateElements / std::max<int64_t>(rows.numel(), 1), 1, count);
  for (int64_t first = 0; first < count; first += chunk) {
    const int64_t n = std::min(chunk, count - first);
    const MinMaxRange candidates = make(first, n);
    Update(state, ScoreCandidates(rows, candidates.min, candidates.max, rule),
           candidates.min, candidates.max, mask);
  }
}

// Column of the values first, first + 1, ..., first + n - 1 as [n, 1].
at::Tensor Steps(int64_t first, int64_t n, const at::Tensor& like) {
  return at::arange(first, first + n, like.options()).unsqueeze(1);
}

void Search1D(const at::Tensor& rows, const MinMaxRange& range,
              const at::Tensor& mask, int64_t steps, const QParamsRule& rule,
              SearchState& state) {
  const at::Tensor unit =
      at::maximum(range.min.abs(), range.max) / static_cast<double>(steps);
  const at::Tensor non_negative = range.min >= 0;
  const at::Tensor non_positive = range.max <= 0;
  const auto make = [&](int64_t first, int64_t n) -> MinMaxRange {
    const at::Tensor threshold = unit.unsqueeze(0) * Steps(first + 1, n, unit);
    return {at::where(non_negative, at::zeros_like(threshold), -threshold),
            at::where(non_positive, at::zeros_like(threshold), threshold)};
  };
  SearchCandidates(rows, rule, mask, steps, make, state);
}

void Search2D(const at::Tensor& rows, const MinMaxRange& range,
              const at::Tensor& mask, int64_t steps, const QParamsRule& rule,
              SearchState& state) {
  const at::Tensor unit = (range.max - range.min) / static_cast<double>(steps);
  const double levels = static_cast<double>(rule.qmax - rule.qmin);
  const int64_t zero_points = rule.qmax - rule.qmin + 1;
  for (int64_t i = 1; i <= steps; ++i) {
    const at::Tensor span = unit * static_cast<double>(i);
    const at::Tensor delta = span / levels;
    const auto make = [&](int64_t first, int64_t n) -> MinMaxRange {
      const at::Tensor shift =
          Steps(rule.qmin + first, n, delta) * delta.unsqueeze(0);
      return {at::maximum(-shift, range.min.unsqueeze(0)),
              at::minimum(span.unsqueeze(0) - shift, range.max.unsqueeze(0))};
    };
    SearchCandidates(rows, rule, mask, zero_points, make, state);
  }
}

}  // namespace

MinMaxRange SearchMseRange(const at::Tensor& x, const QuantConfig& config) {
  ValidateQuantConfig(config);
  const MinMaxRange observed =
      RowMinMax(x, config.granularity, config.group_size);
  const at::Tensor rows =
      RowView(x.to(at::kFloat), config.granularity, config.group_size);
  const MinMaxRange range{observed.min.reshape({-1}),
                          observed.max.reshape({-1})};
  const QParamsRule rule = RuleOf(config);
  const int64_t steps = config.observer_options.mse_steps;
  SearchState state{
      range.min.clone(), range.max.clone(),
      at::full_like(range.min, std::numeric_limits<float>::infinity())};
  const at::Tensor one_sided = at::logical_or(range.min >= 0, range.max <= 0);
  const at::Tensor use_1d =
      config.symmetric ? at::ones_like(one_sided) : one_sided;
  Search1D(rows, range, use_1d, steps, rule, state);
  const at::Tensor use_2d = at::logical_not(use_1d);
  if (use_2d.any().item<bool>()) {
    Search2D(rows, range, use_2d, steps, rule, state);
  }
  return {state.min.reshape(observed.min.sizes()),
          state.max.reshape(observed.max.sizes())};
}

MseObserver::MseObserver(const QuantConfig& config, Accumulation accumulation)
    : config_(config), accumulator_(accumulation) {}

void MseObserver::Observe(const at::Tensor& x) {
  accumulator_.Add(SearchMseRange(x, config_));
}

}  // namespace quantd::engine::quant
