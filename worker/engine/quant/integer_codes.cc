#include "worker/engine/quant/integer_codes.h"

#include <c10/util/StringUtil.h>

#include "worker/engine/quant/errors.h"
#include "worker/engine/quant/granularity.h"

namespace quantd::engine::quant {
namespace {

void CheckParams(const QParams& qparams, int64_t rows, Granularity granularity,
                 const char* function) {
  const int64_t expected =
      granularity == Granularity::kPerTensor ? int64_t{1} : rows;
  if (!qparams.scale.defined() || !qparams.zero_point.defined() ||
      qparams.scale.numel() != expected ||
      qparams.zero_point.numel() != expected) {
    throw QuantError(c10::str(function, ": ", GranularityName(granularity),
                              " needs ", expected, " scale/zero_point values"));
  }
}

}  // namespace

at::ScalarType CodeDtype(int64_t qmin, int64_t qmax) {
  if (qmin >= 0 && qmax <= 255) return at::kByte;
  if (qmin >= -128 && qmax <= 127) return at::kChar;
  throw QuantError(c10::str("CodeDtype: grid [", qmin, ", ", qmax,
                            "] does not fit int8 or uint8"));
}

IntegerCodes QuantizeToInt(const at::Tensor& x, const QParams& qparams,
                           Granularity granularity, int64_t group_size) {
  if (!x.defined() || !at::isFloatingType(x.scalar_type())) {
    throw QuantError("QuantizeToInt: x must be a floating-point tensor");
  }
  const at::ScalarType dtype = CodeDtype(qparams.qmin, qparams.qmax);
  const at::Tensor rows = RowView(x.to(at::kFloat), granularity, group_size);
  CheckParams(qparams, rows.size(0), granularity, "QuantizeToInt");
  const at::Tensor scale =
      qparams.scale.to(rows.device(), at::kFloat).reshape({-1, 1});
  const at::Tensor zero_point =
      qparams.zero_point.to(rows.device(), at::kFloat).reshape({-1, 1});
  const at::Tensor code = at::clamp(at::round(rows / scale) + zero_point,
                                    static_cast<double>(qparams.qmin),
                                    static_cast<double>(qparams.qmax));
  return {code.to(dtype).reshape(x.sizes()), qparams, granularity, group_size};
}

at::Tensor Dequantize(const IntegerCodes& codes, at::ScalarType dtype) {
  const at::Tensor rows =
      RowView(codes.codes.to(at::kFloat), codes.granularity, codes.group_size);
  CheckParams(codes.qparams, rows.size(0), codes.granularity, "Dequantize");
  const at::Tensor scale =
      codes.qparams.scale.to(rows.device(), at::kFloat).reshape({-1, 1});
  const at::Tensor zero_point =
      codes.qparams.zero_point.to(rows.device(), at::kFloat).reshape({-1, 1});
  return ((rows - zero_point) * scale).reshape(codes.codes.sizes()).to(dtype);
}

}  // namespace quantd::engine::quant
