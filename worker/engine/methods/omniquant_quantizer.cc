#include "worker/engine/methods/omniquant_quantizer.h"

#include <ATen/core/grad_mode.h>

#include "worker/engine/methods/method_error.h"
#include "worker/engine/quant/granularity.h"

namespace quantd::engine::methods {
namespace {

void RequireOmniRule(const quant::QuantConfig& config, const char* function) {
  if (config.include_zero) {
    throw MethodError(std::string(function) +
                      ": OmniQuant's quantizer needs include_zero == false, "
                      "got " +
                      quant::DescribeQuantConfig(config));
  }
}

}  // namespace

at::Tensor Rounding::Code(const at::Tensor& scaled,
                          const at::Tensor& zero_point, int64_t qmin,
                          int64_t qmax) {
  // round(v) - v is exact in float32, so the value is exactly round(v).
  const at::Tensor rounded = scaled + (at::round(scaled) - scaled).detach();
  return at::clamp(rounded + zero_point, static_cast<double>(qmin),
                   static_cast<double>(qmax));
}

at::Tensor Rounding::ZeroPoint(const at::Tensor& v) {
  return at::round(v.detach());
}

at::Tensor OmniFakeQuantizeRows(const at::Tensor& rows, const at::Tensor& lo,
                                const at::Tensor& hi,
                                const quant::QuantConfig& config,
                                Rounding& rounding) {
  RequireOmniRule(config, "OmniFakeQuantizeRows");
  const quant::IntegerGrid grid = quant::GridOf(config);
  const double scale_min = static_cast<double>(quant::kOmniScaleMin);
  const double scale_max = static_cast<double>(quant::kOmniScaleMax);
  // The same float32 operations, in the same order, as quant's OmniQParams
  // and FakeQuantize.
  at::Tensor scale;
  at::Tensor zero_point;
  if (config.symmetric) {
    const double level = static_cast<double>((grid.qmax - 1) / 2);
    scale = at::clamp(at::maximum(hi.abs(), lo.abs()) / level, scale_min,
                      scale_max);
    zero_point = at::full_like(scale, level).detach();
  } else {
    const double limit = static_cast<double>(quant::kOmniZeroPointLimit);
    const double levels = static_cast<double>(grid.qmax - grid.qmin);
    scale = at::clamp((hi - lo) / levels, scale_min, scale_max);
    zero_point = rounding.ZeroPoint(at::clamp(lo.neg() / scale, -limit, limit));
  }
  scale = scale.unsqueeze(1);
  zero_point = zero_point.unsqueeze(1);
  const at::Tensor code =
      rounding.Code(rows / scale, zero_point, grid.qmin, grid.qmax);
  return (code - zero_point) * scale;
}

at::Tensor OmniFakeQuantizeDynamic(const at::Tensor& x,
                                   const quant::QuantConfig& config,
                                   Rounding& rounding) {
  if (!config.enabled) return x;
  const at::Tensor rows =
      quant::RowView(x, config.granularity, config.group_size);
  return OmniFakeQuantizeRows(rows, at::amin(rows, 1), at::amax(rows, 1),
                              config, rounding)
      .reshape(x.sizes());
}

LearnableClipping::LearnableClipping(const at::Tensor& weight,
                                     const quant::QuantConfig& config,
                                     bool learnable, double init)
    : config_(config) {
  RequireOmniRule(config, "LearnableClipping");
  if (!learnable) return;
  const int64_t rows =
      quant::RowCount(weight, config.granularity, config.group_size);
  const at::TensorOptions options = weight.detach().options();
  upper_ = at::full({rows}, init, options).requires_grad_(true);
  lower_ = at::full({rows}, init, options).requires_grad_(true);
}

quant::MinMaxRange LearnableClipping::ClippedRange(
    const at::Tensor& weight) const {
  const at::Tensor rows =
      quant::RowView(weight, config_.granularity, config_.group_size);
  at::Tensor hi = at::amax(rows, 1);
  at::Tensor lo = at::amin(rows, 1);
  if (upper_.defined()) {
    hi = at::sigmoid(upper_) * hi;
    lo = at::sigmoid(lower_) * lo;
  }
  return {lo, hi};
}

at::Tensor LearnableClipping::Apply(const at::Tensor& weight,
                                    Rounding& rounding) const {
  const quant::MinMaxRange range = ClippedRange(weight);
  const at::Tensor rows =
      quant::RowView(weight, config_.granularity, config_.group_size);
  return OmniFakeQuantizeRows(rows, range.min, range.max, config_, rounding)
      .reshape(weight.sizes());
}

quant::QParams LearnableClipping::QParams(const at::Tensor& weight) const {
  at::NoGradGuard no_grad;
  quant::MinMaxRange range = ClippedRange(weight.detach());
  range.min = range.min.detach();
  range.max = range.max.detach();
  if (config_.granularity == quant::Granularity::kPerTensor) {
    range.min = range.min.reshape({});
    range.max = range.max.reshape({});
  }
  return quant::ComputeQParams(range, config_);
}

std::vector<at::Tensor> LearnableClipping::parameters() const {
  if (!upper_.defined()) return {};
  return {upper_, lower_};
}

}  // namespace quantd::engine::methods
