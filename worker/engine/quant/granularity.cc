#include "worker/engine/quant/granularity.h"

#include <c10/util/StringUtil.h>

#include "worker/engine/quant/errors.h"

namespace quantd::engine::quant {
namespace {

std::string ShapeOf(const at::Tensor& x) { return c10::str(x.sizes()); }

void RequirePerRowShape(const at::Tensor& x, Granularity granularity) {
  if (x.dim() == 0) {
    throw QuantError(c10::str("RowView: a 0-dim tensor has no rows for ",
                              GranularityName(granularity)));
  }
}

}  // namespace

int64_t RowCount(const at::Tensor& x, Granularity granularity,
                 int64_t group_size) {
  switch (granularity) {
    case Granularity::kPerTensor:
      return 1;
    case Granularity::kPerChannel:
      RequirePerRowShape(x, granularity);
      return x.size(0);
    case Granularity::kPerToken:
      RequirePerRowShape(x, granularity);
      return x.size(-1) == 0 ? 0 : x.numel() / x.size(-1);
    case Granularity::kPerGroup:
      RequirePerRowShape(x, granularity);
      if (group_size <= 0 || x.size(-1) % group_size != 0) {
        throw QuantError(
            c10::str("RowView: group_size ", group_size,
                     " must be positive and divide the last dimension of x ",
                     ShapeOf(x)));
      }
      return x.numel() / group_size;
  }
  throw QuantError("RowView: unknown granularity");
}

at::Tensor RowView(const at::Tensor& x, Granularity granularity,
                   int64_t group_size) {
  const int64_t rows = RowCount(x, granularity, group_size);
  if (granularity == Granularity::kPerTensor) return x.reshape({1, -1});
  if (rows == 0) {
    // reshape cannot infer -1 for an empty tensor.
    const int64_t row_length = granularity == Granularity::kPerGroup
                                   ? group_size
                                   : (x.dim() > 0 ? x.size(-1) : 0);
    return x.reshape({0, row_length});
  }
  return x.reshape({rows, -1});
}

MinMaxRange RowMinMax(const at::Tensor& x, Granularity granularity,
                      int64_t group_size) {
  if (x.numel() == 0) {
    throw QuantError(c10::str("RowMinMax: empty tensor of shape ", ShapeOf(x),
                              " has no range"));
  }
  const at::Tensor values = x.to(at::kFloat);
  if (granularity == Granularity::kPerTensor) {
    auto [min, max] = at::aminmax(values);
    return {min, max};
  }
  const at::Tensor rows = RowView(values, granularity, group_size);
  auto [min, max] = at::aminmax(rows, /*dim=*/1);
  return {min, max};
}

at::Tensor SelectTokens(const at::Tensor& x, const at::Tensor& token_mask) {
  if (x.dim() == 0) {
    throw QuantError("SelectTokens: x must have a channel dimension");
  }
  if (token_mask.scalar_type() != at::kBool) {
    throw QuantError(c10::str("SelectTokens: token_mask must be bool, got ",
                              token_mask.scalar_type()));
  }
  const int64_t channels = x.size(-1);
  const int64_t tokens = channels == 0 ? 0 : x.numel() / channels;
  if (token_mask.numel() != tokens) {
    throw QuantError(c10::str("SelectTokens: token_mask of shape ",
                              ShapeOf(token_mask), " does not match the ",
                              tokens, " tokens of x ", ShapeOf(x)));
  }
  const at::Tensor rows = x.reshape({tokens, channels});
  const at::Tensor kept =
      token_mask.reshape({-1}).to(x.device()).nonzero().reshape({-1});
  return rows.index_select(0, kept);
}

}  // namespace quantd::engine::quant
