#include "worker/engine/methods/gptq_solver.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "worker/engine/methods/method_error.h"
#include "worker/engine/quant/fake_quant.h"
#include "worker/engine/quant/granularity.h"

namespace quantd::engine::methods {
namespace {

// Where dampening goes after a failure at dampening_percent 0.
constexpr double kFirstRetryPercent = 0.01;

void Require(bool condition, const std::string& problem) {
  if (!condition) throw MethodError("GPTQ: " + problem);
}

bool AllFinite(const at::Tensor& x) {
  return at::isfinite(x).all().item<bool>();
}

void CheckConfig(const quant::QuantConfig& config, int64_t columns,
                 const GptqOptions& options) {
  const std::string described = quant::DescribeQuantConfig(config);
  Require(!config.dynamic,
          "the weight quantizer must be static, got " + described);
  Require(config.observer == quant::ObserverKind::kMinMax ||
              config.observer == quant::ObserverKind::kRunningMinMax,
          std::string("each group's range is its min/max; observer '") +
              quant::ObserverKindName(config.observer) + "' is not supported");
  Require(config.granularity != quant::Granularity::kPerToken,
          "per_token is not a weight granularity");
  if (config.granularity == quant::Granularity::kPerGroup) {
    Require(config.group_size > 0 && columns % config.group_size == 0,
            "group size " + std::to_string(config.group_size) +
                " does not divide the " + std::to_string(columns) +
                " input columns");
    Require(!options.act_order || options.static_groups,
            "act_order with per-group weights needs static_groups (the "
            "groups must stay contiguous in the original column order)");
  }
  Require(options.block_size >= 1, "block_size must be >= 1");
  Require(options.dampening_percent >= 0.0, "dampening_percent must be >= 0");
}

// (Δ, zp) of each output row of `columns` [out, k]: one group, or the
// whole weight for per_channel; all of it for per_tensor.
quant::QParams RangeOf(const at::Tensor& columns,
                       const quant::QuantConfig& config) {
  const quant::Granularity granularity =
      config.granularity == quant::Granularity::kPerGroup
          ? quant::Granularity::kPerChannel
          : config.granularity;
  const at::Tensor values = columns.to(at::kFloat).contiguous();
  return quant::ComputeQParams(quant::RowMinMax(values, granularity, 0),
                               config);
}

// The (Δ, zp) of every column position of the sweep (positions are in
// act_order's order; groups are in the original order).
class ColumnGrid {
 public:
  // `original`: the weight as given (per_tensor and per_channel ranges, as
  // the reference takes them before dead columns are zeroed); `zeroed`: with
  // dead columns zeroed (static groups).
  ColumnGrid(const quant::QuantConfig& config, const at::Tensor& original,
             const at::Tensor& zeroed, std::vector<int64_t> order,
             bool static_groups)
      : config_(config), order_(std::move(order)) {
    if (config.granularity != quant::Granularity::kPerGroup) {
      groups_.push_back(RangeOf(original, config));
      return;
    }
    group_size_ = config.group_size;
    const int64_t count = original.size(1) / group_size_;
    groups_.resize(count);
    dynamic_groups_ = !static_groups;
    if (dynamic_groups_) return;
    for (int64_t g = 0; g < count; ++g) {
      groups_[g] =
          RangeOf(zeroed.narrow(1, g * group_size_, group_size_), config);
    }
  }

  int64_t group_size() const { return group_size_; }
  // Whether `position` opens a group whose range comes from the weights as
  // the sweep has updated them (then SetGroup before At).
  bool StartsGroup(int64_t position) const {
    return dynamic_groups_ && position % group_size_ == 0;
  }
  void SetGroup(int64_t position, const at::Tensor& columns) {
    groups_[position / group_size_] = RangeOf(columns, config_);
  }
  const quant::QParams& At(int64_t position) const {
    if (group_size_ == 0) return groups_.front();
    return groups_[order_[position] / group_size_];
  }

  // In the config's layout: per_group row-major over (row, group).
  quant::QParams Collect() const {
    if (group_size_ == 0) return groups_.front();
    std::vector<at::Tensor> scales;
    std::vector<at::Tensor> zero_points;
    for (const quant::QParams& group : groups_) {
      scales.push_back(group.scale);
      zero_points.push_back(group.zero_point);
    }
    quant::QParams all = groups_.front();
    all.scale = at::stack(scales, 1).reshape({-1}).contiguous();
    all.zero_point = at::stack(zero_points, 1).reshape({-1}).contiguous();
    return all;
  }

 private:
  const quant::QuantConfig& config_;
  std::vector<int64_t> order_;
  std::vector<quant::QParams> groups_;
  int64_t group_size_ = 0;  // 0 unless per_group.
  bool dynamic_groups_ = false;
};

// The upper Cholesky factor of (H + λI)⁻¹, λ = percent · mean(diag H);
// nullopt when H + λI is not positive definite or the factor not finite.
std::optional<at::Tensor> InverseCholesky(const at::Tensor& hessian,
                                          double percent) {
  at::Tensor damped = hessian.clone();
  const double mean = hessian.diagonal().mean().item<double>();
  damped.diagonal().add_(percent * mean);
  auto [lower, info] = at::linalg_cholesky_ex(damped);
  if (info.item<int64_t>() != 0) return std::nullopt;
  auto [upper, inverse_info] =
      at::linalg_cholesky_ex(at::cholesky_inverse(lower), /*upper=*/true);
  if (inverse_info.item<int64_t>() != 0 || !AllFinite(upper)) {
    return std::nullopt;
  }
  return upper;
}

// Rounds a column [out] (float64) with per-row (Δ, zp), in float32.
at::Tensor RoundColumn(const at::Tensor& column, const quant::QParams& p) {
  return quant::FakeQuantize(column.to(at::kFloat), p.scale, p.zero_point,
                             p.qmin, p.qmax)
      .to(at::kDouble);
}

// The current (fully updated) values of the group opening at position
// `start` = block_start + i: its part inside the block from `block`, the
// rest from `weight` less the block's pending lazy update.
at::Tensor CurrentGroup(const at::Tensor& weight, const at::Tensor& block,
                        const at::Tensor& block_errors,
                        const at::Tensor& inverse, int64_t block_start,
                        int64_t i, int64_t group_size) {
  const int64_t columns = weight.size(1);
  const int64_t block_end = block_start + block.size(1);
  const int64_t start = block_start + i;
  const int64_t end = std::min(start + group_size, columns);
  at::Tensor inside = block.narrow(1, i, std::min(end, block_end) - start);
  if (end <= block_end) return inside;
  const at::Tensor pending =
      at::matmul(block_errors, inverse.narrow(0, block_start, block.size(1))
                                   .narrow(1, block_end, end - block_end));
  return at::cat(
      {inside, weight.narrow(1, block_end, end - block_end) - pending}, 1);
}

// The GPTQ sweep over the (permuted) weight, which it updates; returns the
// quantized weight in the same column order.
at::Tensor Sweep(at::Tensor weight, const at::Tensor& inverse, ColumnGrid& grid,
                 int64_t block_size) {
  const int64_t columns = weight.size(1);
  at::Tensor quantized = at::empty_like(weight);
  for (int64_t start = 0; start < columns; start += block_size) {
    const int64_t count = std::min(block_size, columns - start);
    at::Tensor block = weight.narrow(1, start, count).clone();
    at::Tensor errors = at::zeros_like(block);
    const at::Tensor inverse_block =
        inverse.narrow(0, start, count).narrow(1, start, count);
    for (int64_t i = 0; i < count; ++i) {
      if (grid.StartsGroup(start + i)) {
        grid.SetGroup(start + i, CurrentGroup(weight, block, errors, inverse,
                                              start, i, grid.group_size()));
      }
      const at::Tensor column = block.select(1, i);
      const at::Tensor rounded = RoundColumn(column, grid.At(start + i));
      const at::Tensor error = (column - rounded) / inverse_block[i][i];
      quantized.select(1, start + i).copy_(rounded);
      errors.select(1, i).copy_(error);
      block.narrow(1, i, count - i)
          .sub_(at::outer(error, inverse_block[i].narrow(0, i, count - i)));
    }
    const int64_t rest = columns - start - count;
    if (rest > 0) {
      weight.narrow(1, start + count, rest)
          .sub_(at::matmul(
              errors,
              inverse.narrow(0, start, count).narrow(1, start + count, rest)));
    }
  }
  return quantized;
}

}  // namespace

GptqResult SolveGptq(const at::Tensor& weight, const at::Tensor& hessian,
                     const quant::QuantConfig& config,
                     const GptqOptions& options) {
  GptqResult result;
  result.dampening_percent = options.dampening_percent;
  if (!config.enabled) {
    result.weight = weight;
    return result;
  }
  Require(weight.dim() == 2 && hessian.dim() == 2 &&
              hessian.size(0) == weight.size(1) &&
              hessian.size(1) == weight.size(1),
          "the Hessian must be [in, in] for a weight [out, in]");
  CheckConfig(config, weight.size(1), options);
  const at::Tensor original = weight.to(at::kDouble);
  Require(AllFinite(original), "the weight is not finite");
  at::Tensor h = hessian.to(original.device(), at::kDouble).clone();
  Require(AllFinite(h), "the Hessian is not finite");

  // Dead inputs: unit diagonal, no coupling, zero weight (the reference).
  const at::Tensor dead = h.diagonal() <= 0;
  result.dead_columns = dead.sum().item<int64_t>();
  at::Tensor zeroed = original.masked_fill(dead.unsqueeze(0), 0.0);
  h.masked_fill_(dead.unsqueeze(0) | dead.unsqueeze(1), 0.0);
  h.diagonal().masked_fill_(dead, 1.0);

  at::Tensor permutation =
      options.act_order
          ? std::get<1>(h.diagonal().sort(/*stable=*/true, /*dim=*/0,
                                          /*descending=*/true))
          : at::arange(h.size(0), h.options().dtype(at::kLong));
  const at::Tensor permutation_cpu = permutation.cpu().contiguous();
  const std::vector<int64_t> order(
      permutation_cpu.data_ptr<int64_t>(),
      permutation_cpu.data_ptr<int64_t>() + permutation_cpu.numel());
  const at::Tensor permuted = zeroed.index_select(1, permutation);
  h = h.index_select(0, permutation).index_select(1, permutation);

  double percent = options.dampening_percent;
  for (int attempt = 0;; ++attempt) {
    if (std::optional<at::Tensor> inverse = InverseCholesky(h, percent)) {
      ColumnGrid grid(config, original, zeroed, order, options.static_groups);
      at::Tensor quantized =
          Sweep(permuted.clone(), *inverse, grid, options.block_size);
      if (AllFinite(quantized)) {
        result.weight = quantized.index_select(1, at::argsort(permutation))
                            .to(at::kFloat)
                            .contiguous();
        result.qparams = grid.Collect();
        result.dampening_percent = percent;
        result.dampening_retries = attempt;
        return result;
      }
    }
    Require(attempt < options.max_dampening_retries,
            "H + λI is not positive definite even at dampening_percent " +
                std::to_string(percent));
    percent = percent > 0 ? percent * 10 : kFirstRetryPercent;
  }
}

double LayerOutputError(const at::Tensor& weight, const at::Tensor& quantized,
                        const at::Tensor& hessian) {
  const at::Tensor error = weight.to(at::kDouble) - quantized.to(at::kDouble);
  const at::Tensor h = hessian.to(error.device(), at::kDouble);
  return (at::matmul(error, h) * error).sum().item<double>() /
         (2.0 * static_cast<double>(weight.size(0)));
}

void HessianAccumulator::Add(const at::Tensor& x) {
  const at::Tensor rows = x.reshape({-1, x.size(-1)}).to(at::kDouble);
  if (!sum_.defined()) {
    sum_ = at::zeros({rows.size(1), rows.size(1)}, rows.options());
  }
  Require(rows.size(1) == sum_.size(0),
          "calibration inputs changed width from " +
              std::to_string(sum_.size(0)) + " to " +
              std::to_string(rows.size(1)));
  sum_.addmm_(rows.t(), rows);
  rows_ += rows.size(0);
}

at::Tensor HessianAccumulator::Hessian() const {
  Require(rows_ > 0, "no calibration inputs reached the layer");
  return sum_ * (2.0 / static_cast<double>(rows_));
}

}  // namespace quantd::engine::methods
