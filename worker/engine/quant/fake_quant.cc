#include "worker/engine/quant/fake_quant.h"

#include <c10/util/StringUtil.h>

#include "worker/engine/quant/cpu_fake_quant.h"
#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/fused_kernels.h"
#include "worker/engine/quant/granularity.h"

namespace quantd::engine::quant {
namespace {

void CheckFloating(const at::Tensor& x, const char* function) {
  if (!x.defined() || !at::isFloatingType(x.scalar_type())) {
    throw QuantError(c10::str(
        function, ": x must be a floating-point tensor, got ",
        x.defined() ? c10::str(x.scalar_type()) : std::string("undefined")));
  }
}

void CheckGrid(int64_t qmin, int64_t qmax, const char* function) {
  if (qmin > qmax) {
    throw QuantError(c10::str(function, ": qmin ", qmin, " > qmax ", qmax));
  }
}

void CheckParamCount(const QParams& qparams, int64_t rows,
                     Granularity granularity) {
  const int64_t expected =
      granularity == Granularity::kPerTensor ? int64_t{1} : rows;
  if (!qparams.scale.defined() || !qparams.zero_point.defined() ||
      qparams.scale.numel() != expected ||
      qparams.zero_point.numel() != expected) {
    throw QuantError(c10::str(
        "FakeQuantize: ", GranularityName(granularity), " needs ", expected,
        " scale/zero_point values, got ",
        qparams.scale.defined() ? qparams.scale.numel() : 0, "/",
        qparams.zero_point.defined() ? qparams.zero_point.numel() : 0));
  }
}

}  // namespace

at::Tensor FakeQuantize(const at::Tensor& x, const at::Tensor& scale,
                        const at::Tensor& zero_point, int64_t qmin,
                        int64_t qmax) {
  CheckFloating(x, "FakeQuantize");
  CheckGrid(qmin, qmax, "FakeQuantize");
  const at::Tensor values = x.to(at::kFloat);
  const at::Tensor s = scale.to(values.device(), at::kFloat);
  const at::Tensor z = zero_point.to(values.device(), at::kFloat);
  if (auto fused = internal::CpuFakeQuantize(values, s, z, qmin, qmax)) {
    return fused->to(x.scalar_type());
  }
  // The operation order is mirrored by cuda/fake_quant_math.h (and so by
  // the one-pass CPU loop above).
  const at::Tensor code =
      at::clamp(at::round(values / s) + z, static_cast<double>(qmin),
                static_cast<double>(qmax));
  return ((code - z) * s).to(x.scalar_type());
}

at::Tensor FakeQuantize(const at::Tensor& x, const QParams& qparams,
                        Granularity granularity, int64_t group_size) {
  CheckFloating(x, "FakeQuantize");
  CheckGrid(qparams.qmin, qparams.qmax, "FakeQuantize");
  if (x.numel() == 0) return x.clone();
  const at::Tensor rows = RowView(x, granularity, group_size);
  CheckParamCount(qparams, rows.size(0), granularity);
  if (auto fused = internal::TryFusedFakeQuantizeRows(rows, qparams)) {
    return fused->reshape(x.sizes());
  }
  return FakeQuantize(rows, qparams.scale.reshape({-1, 1}),
                      qparams.zero_point.reshape({-1, 1}), qparams.qmin,
                      qparams.qmax)
      .reshape(x.sizes());
}

QParams DynamicQParams(const at::Tensor& x, const QuantConfig& config) {
  ValidateQuantConfig(config);
  CheckFloating(x, "DynamicQParams");
  return ComputeQParams(RowMinMax(x, config.granularity, config.group_size),
                        RuleOf(config));
}

at::Tensor FakeQuantizeDynamic(const at::Tensor& x, const QuantConfig& config) {
  if (!config.enabled) return x;
  ValidateQuantConfig(config);
  CheckFloating(x, "FakeQuantizeDynamic");
  if (x.numel() == 0) return x.clone();
  if (config.granularity != Granularity::kPerTensor) {
    const at::Tensor rows = RowView(x, config.granularity, config.group_size);
    if (auto fused =
            internal::TryFusedDynamicFakeQuantizeRows(rows, RuleOf(config))) {
      return fused->output.reshape(x.sizes());
    }
  }
  const QParams qparams = DynamicQParams(x, config);
  return FakeQuantize(x, qparams, config.granularity, config.group_size);
}

at::Tensor FakeQuantizeSte(const at::Tensor& x, const at::Tensor& scale,
                           const at::Tensor& zero_point, int64_t qmin,
                           int64_t qmax) {
  CheckFloating(x, "FakeQuantizeSte");
  CheckGrid(qmin, qmax, "FakeQuantizeSte");
  const at::Tensor scaled = x.to(at::kFloat) / scale.to(at::kFloat);
  // round(v) - v is exact in float32, so scaled + it is exactly round(v).
  const at::Tensor rounded = scaled + (at::round(scaled) - scaled).detach();
  const at::Tensor z = zero_point.to(at::kFloat);
  const at::Tensor code = at::clamp(rounded + z, static_cast<double>(qmin),
                                    static_cast<double>(qmax));
  return ((code - z) * scale.to(at::kFloat)).to(x.scalar_type());
}

}  // namespace quantd::engine::quant
