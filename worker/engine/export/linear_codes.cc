#include "worker/engine/export/linear_codes.h"

#include "worker/engine/export/export_error.h"
#include "worker/engine/quant/integer_codes.h"

namespace quantd::engine::exporting {

at::Tensor IntegerZeroPoints(const at::Tensor& zero_point,
                             const std::vector<int64_t>& shape,
                             const std::string& where) {
  at::Tensor values = zero_point.detach().to(at::kCPU, at::kFloat);
  values = values.reshape(shape);
  const bool integral =
      values.numel() == 0 || (at::equal(values, at::round(values)) &&
                              values.abs().max().item<double>() < 2147483647.0);
  if (!integral) {
    throw ExportError(where + ": zero points are not int32 integers");
  }
  return values.to(at::kInt).contiguous();
}

std::vector<int64_t> WeightParamShape(const quant::QuantConfig& config,
                                      const at::Tensor& weight,
                                      const std::string& where) {
  switch (config.granularity) {
    case quant::Granularity::kPerTensor:
      return {1};
    case quant::Granularity::kPerChannel:
      return {weight.size(0)};
    case quant::Granularity::kPerGroup:
      if (config.group_size <= 0 || weight.size(1) % config.group_size != 0) {
        throw ExportError(where + ": group size " +
                          std::to_string(config.group_size) +
                          " does not divide the input dimension");
      }
      return {weight.size(0), weight.size(1) / config.group_size};
    case quant::Granularity::kPerToken:
      break;
  }
  throw ExportError(where + ": per_token is not a weight granularity");
}

LinearCodes RecoverLinearCodes(const QuantizedLinear& linear,
                               const at::Tensor& weight,
                               const std::string& where) {
  const at::Tensor w = weight.detach().to(at::kCPU, at::kFloat).contiguous();
  if (w.dim() != 2) throw ExportError(where + ": weight is not 2-D");
  LinearCodes out;
  out.param_shape = WeightParamShape(linear.config, w, where);
  const quant::IntegerCodes codes = quant::QuantizeToInt(
      w, linear.qparams, linear.config.granularity, linear.config.group_size);
  const at::Tensor restored = quant::Dequantize(codes);
  out.codes = codes.codes;
  out.scales = linear.qparams.scale.detach()
                   .to(at::kCPU, at::kFloat)
                   .reshape(out.param_shape)
                   .contiguous();
  out.zero_points =
      IntegerZeroPoints(linear.qparams.zero_point, out.param_shape, where);
  out.qmin = linear.qparams.qmin;
  out.qmax = linear.qparams.qmax;
  out.bit_exact = at::equal(restored, w);
  out.max_abs_error =
      w.numel() == 0 ? 0.0 : (restored - w).abs().max().item<double>();
  return out;
}

}  // namespace quantd::engine::exporting
