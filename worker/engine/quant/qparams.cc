#include "worker/engine/quant/qparams.h"

#include <c10/util/StringUtil.h>

#include "worker/engine/quant/errors.h"

namespace quantd::engine::quant {
namespace {

// Every formula below spells out the float32 operations in the order the
// CUDA kernels (worker/engine/cuda/fake_quant_math.h) perform them, so the
// two stay bit-identical. Scalars are exact in float32 (small integers,
// halves of them, and float constants widened to double).
QParams OsQParams(const at::Tensor& min, const at::Tensor& max,
                  const QParamsRule& rule) {
  const double qmin = static_cast<double>(rule.qmin);
  const double qmax = static_cast<double>(rule.qmax);
  const at::Tensor lo = at::clamp_max(min, 0.0);
  const at::Tensor hi = at::clamp_min(max, 0.0);
  if (rule.mode == RangeMode::kSymmetric) {
    const at::Tensor absmax = at::maximum(lo.neg(), hi);
    const at::Tensor scale = at::clamp_min(absmax / ((qmax - qmin) / 2.0),
                                           static_cast<double>(rule.eps));
    return {scale, at::zeros_like(scale), rule.qmin, rule.qmax};
  }
  const at::Tensor scale =
      at::clamp_min((hi - lo) / (qmax - qmin), static_cast<double>(rule.eps));
  const at::Tensor zero_point =
      at::clamp(at::rsub(at::round(lo / scale), qmin), qmin, qmax);
  return {scale, zero_point, rule.qmin, rule.qmax};
}

QParams OmniQParams(const at::Tensor& min, const at::Tensor& max,
                    const QParamsRule& rule) {
  const double scale_min = static_cast<double>(kOmniScaleMin);
  const double scale_max = static_cast<double>(kOmniScaleMax);
  if (rule.mode == RangeMode::kOmniSymmetric) {
    const double level = static_cast<double>((rule.qmax - 1) / 2);
    const at::Tensor absmax = at::maximum(max.abs(), min.abs());
    const at::Tensor scale = at::clamp(absmax / level, scale_min, scale_max);
    return {scale, at::full_like(scale, level), rule.qmin, rule.qmax};
  }
  const double limit = static_cast<double>(kOmniZeroPointLimit);
  const double levels = static_cast<double>(rule.qmax - rule.qmin);
  const at::Tensor scale =
      at::clamp((max - min) / levels, scale_min, scale_max);
  const at::Tensor zero_point =
      at::round(at::clamp(min.neg() / scale, -limit, limit));
  return {scale, zero_point, rule.qmin, rule.qmax};
}

}  // namespace

QParamsRule RuleOf(const QuantConfig& config) {
  const IntegerGrid grid = GridOf(config);
  QParamsRule rule;
  rule.qmin = grid.qmin;
  rule.qmax = grid.qmax;
  rule.eps = config.grid == Grid::kOsPlusNarrow ? kOsPlusEps : kOsEps;
  if (config.include_zero) {
    rule.mode =
        config.symmetric ? RangeMode::kSymmetric : RangeMode::kAsymmetric;
  } else {
    rule.mode = config.symmetric ? RangeMode::kOmniSymmetric
                                 : RangeMode::kOmniAsymmetric;
  }
  return rule;
}

QParams ComputeQParams(const MinMaxRange& range, const QParamsRule& rule) {
  if (!range.min.defined() || !range.max.defined() ||
      !range.min.sizes().equals(range.max.sizes())) {
    throw QuantError(c10::str(
        "ComputeQParams: min and max must be defined tensors of one shape, "
        "got ",
        range.min.defined() ? c10::str(range.min.sizes()) : "undefined",
        " and ",
        range.max.defined() ? c10::str(range.max.sizes()) : "undefined"));
  }
  const at::Device device = range.min.device();
  const at::Tensor min = range.min.to(at::kCPU, at::kFloat);
  const at::Tensor max = range.max.to(at::kCPU, at::kFloat);
  const bool omni = rule.mode == RangeMode::kOmniAsymmetric ||
                    rule.mode == RangeMode::kOmniSymmetric;
  QParams qparams =
      omni ? OmniQParams(min, max, rule) : OsQParams(min, max, rule);
  qparams.scale = qparams.scale.to(device);
  qparams.zero_point = qparams.zero_point.to(device);
  return qparams;
}

QParams ComputeQParams(const MinMaxRange& range, const QuantConfig& config) {
  return ComputeQParams(range, RuleOf(config));
}

}  // namespace quantd::engine::quant
