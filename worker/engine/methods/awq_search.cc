#include "worker/engine/methods/awq_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/weight_quant.h"

namespace quantd::engine::methods {
namespace {

// The reference's floor on a scale before normalisation.
constexpr double kMinScale = 1e-4;

// The Gram matrix's diagonal blocks, one per group: [groups, size, size].
at::Tensor GroupBlocks(const at::Tensor& gram, int64_t groups, int64_t size) {
  return at::diagonal(gram.view({groups, size, groups, size}), 0, 0, 2)
      .permute({2, 0, 1})
      .contiguous();
}

// dᵀ G_g d per (row, group) for d = Q − W: [out, groups], float64.
at::Tensor GroupOutputErrors(const at::Tensor& weight,
                             const at::Tensor& quantized,
                             const at::Tensor& blocks) {
  const int64_t groups = blocks.size(0);
  at::Tensor d = (quantized.to(at::kDouble) - weight.to(at::kDouble))
                     .view({weight.size(0), groups, -1})
                     .permute({1, 0, 2});
  return (at::bmm(d, blocks) * d).sum(-1).t();
}

// `weight` viewed as [out, groups, size] clamped to ±ratio · max|w| of each
// group (ratio [out, groups]).
at::Tensor ClampGroups(const at::Tensor& grouped, const at::Tensor& abs_max,
                       const at::Tensor& ratio) {
  at::Tensor limit = abs_max * ratio.unsqueeze(-1);
  return at::minimum(at::maximum(grouped, -limit), limit);
}

}  // namespace

std::vector<double> AlphaGrid(int64_t grid) {
  grid = std::max<int64_t>(grid, 1);
  std::vector<double> alphas;
  for (int64_t i = 0; i < grid; ++i) {
    alphas.push_back(static_cast<double>(i) / static_cast<double>(grid));
  }
  return alphas;
}

at::Tensor AwqScale(const at::Tensor& mean_abs, double alpha) {
  at::Tensor scale = mean_abs.to(at::kFloat).pow(alpha).clamp_min(kMinScale);
  return scale / (scale.max() * scale.min()).sqrt();
}

std::vector<double> ClipRatios(const ClipOptions& options) {
  const int64_t grid = std::max<int64_t>(options.grid, 1);
  const auto steps = std::max<int64_t>(
      1, static_cast<int64_t>(std::floor(options.max_shrink * grid + 1e-9)));
  std::vector<double> ratios;
  for (int64_t i = 0; i < steps; ++i) {
    ratios.push_back(1.0 - static_cast<double>(i) / static_cast<double>(grid));
  }
  return ratios;
}

at::Tensor RowOutputErrors(const at::Tensor& weight,
                           const at::Tensor& quantized,
                           const at::Tensor& gram) {
  at::Tensor d = quantized.to(at::kDouble) - weight.to(at::kDouble);
  return (at::mm(d, gram.to(at::kDouble)) * d).sum(1);
}

ClipResult SearchWeightClip(const at::Tensor& weight, const at::Tensor& gram,
                            int64_t tokens, const quant::QuantConfig& config,
                            const ClipOptions& options) {
  if (weight.dim() != 2 || gram.dim() != 2 || gram.size(0) != weight.size(1) ||
      gram.size(1) != weight.size(1)) {
    throw MethodError("clip search: the weight (" +
                      std::to_string(weight.dim()) +
                      "-d) and the Gram matrix do not match");
  }
  const int64_t out = weight.size(0), in = weight.size(1);
  const double norm = static_cast<double>(std::max<int64_t>(tokens, 1) * out);
  const at::Tensor w = weight.to(at::kFloat);
  const at::Tensor g = gram.to(at::kDouble);
  ClipResult result;
  result.weight = w;
  const bool grouped = config.granularity == quant::Granularity::kPerGroup;
  if (!config.enabled ||
      (!grouped && config.granularity != quant::Granularity::kPerChannel)) {
    result.ratio = at::ones({out, 1}, w.options());
    return result;
  }
  const int64_t size = grouped ? config.group_size : in;
  const int64_t groups = in / size;
  const at::Tensor blocks = GroupBlocks(g, groups, size);
  const at::Tensor grouped_w = w.view({out, groups, size});
  const at::Tensor abs_max = grouped_w.abs().amax(-1, true);

  at::Tensor best_error =
      at::full({out, groups}, std::numeric_limits<double>::infinity(),
               w.options().dtype(at::kDouble));
  at::Tensor best_ratio = at::ones({out, groups}, w.options());
  for (double ratio : ClipRatios(options)) {
    at::Tensor candidate = ClampGroups(
        grouped_w, abs_max, at::full({out, groups}, ratio, w.options()));
    at::Tensor q = QuantizeWeight(candidate.view({out, in}), config).weight;
    at::Tensor error = GroupOutputErrors(w, q, blocks);
    at::Tensor better = error < best_error;  // Ties keep the larger ratio.
    best_error = at::where(better, error, best_error);
    best_ratio =
        at::where(better, at::full_like(best_ratio, ratio), best_ratio);
  }
  at::Tensor clipped =
      ClampGroups(grouped_w, abs_max, best_ratio).view({out, in});
  // The groups were chosen one by one; a row keeps its unclipped weights if
  // the cross-group terms make its total output error worse.
  const at::Tensor before =
      RowOutputErrors(w, QuantizeWeight(w, config).weight, g);
  const at::Tensor after =
      RowOutputErrors(w, QuantizeWeight(clipped, config).weight, g);
  const at::Tensor worse = after > before;
  result.weight = at::where(worse.unsqueeze(1), w, clipped);
  result.ratio =
      at::where(worse.unsqueeze(1), at::ones_like(best_ratio), best_ratio);
  result.error_before = before.sum().item<double>() / norm;
  result.error_after =
      at::where(worse, before, after).sum().item<double>() / norm;
  return result;
}

}  // namespace quantd::engine::methods
