#include "worker/engine/methods/weight_quant.h"

#include "worker/engine/methods/method_error.h"
#include "worker/engine/quant/integer_codes.h"
#include "worker/engine/quant/quantizer.h"

namespace quantd::engine::methods {

QuantizedWeight QuantizeWeight(const at::Tensor& weight,
                               const quant::QuantConfig& config) {
  if (!config.enabled) return {weight, {}};
  if (config.dynamic) {
    throw MethodError("weight quantizer must be static, got " +
                      quant::DescribeQuantConfig(config));
  }
  quant::Quantizer quantizer(config);
  quantizer.Observe(weight);
  quantizer.Freeze();
  return {quantizer.Apply(weight), quantizer.qparams()};
}

QuantizedWeight DivideQuantizedRows(const at::Tensor& weight,
                                    const quant::QParams& qparams,
                                    const quant::QuantConfig& config,
                                    const at::Tensor& scale) {
  if (config.granularity != quant::Granularity::kPerChannel &&
      config.granularity != quant::Granularity::kPerGroup) {
    throw MethodError(
        "folding a scale into quantized rows needs per-channel or per-group "
        "weights, got " +
        quant::DescribeQuantConfig(config));
  }
  quant::IntegerCodes codes = quant::QuantizeToInt(
      weight, qparams, config.granularity, config.group_size);
  const int64_t rows = weight.size(0);
  at::Tensor steps = qparams.scale.reshape({rows, -1}) /
                     scale.to(qparams.scale.device()).unsqueeze(1);
  codes.qparams.scale = steps.reshape(qparams.scale.sizes()).contiguous();
  return {quant::Dequantize(codes).to(weight.device()), codes.qparams};
}

}  // namespace quantd::engine::methods
