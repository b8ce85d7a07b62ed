// The GPTQ solver against a straightforward reference written here from the
// paper (one column at a time, the explicit inverse Hessian updated by
// Eq. 3 after each column, no Cholesky, no lazy batches), plus its
// reductions (H = I is RTN), its options and its robustness to singular
// and indefinite Hessians. The reference shares only the engine's
// per-row (Δ, zp) formula and rounding with the solver.
#include "worker/engine/methods/gptq_solver.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/weight_quant.h"
#include "worker/engine/quant/fake_quant.h"

namespace quantd::engine::methods {
namespace {

quant::QuantConfig Config(int bits, bool symmetric,
                          quant::Granularity granularity,
                          int64_t group_size = 0) {
  quant::QuantConfig config;
  config.bits = bits;
  config.symmetric = symmetric;
  config.granularity = granularity;
  config.group_size = group_size;
  return config;
}

std::vector<quant::QuantConfig> Configs() {
  using quant::Granularity;
  return {Config(4, false, Granularity::kPerChannel),
          Config(3, true, Granularity::kPerChannel),
          Config(4, false, Granularity::kPerTensor),
          Config(4, false, Granularity::kPerGroup, 16),
          Config(3, true, Granularity::kPerGroup, 8)};
}

// (Δ, zp) per row of `columns` [out, k] (all of it for per_tensor).
quant::QParams ReferenceRange(const at::Tensor& columns,
                              const quant::QuantConfig& config) {
  const at::Tensor values = columns.to(at::kFloat);
  if (config.granularity == quant::Granularity::kPerTensor) {
    return quant::ComputeQParams({values.min(), values.max()}, config);
  }
  return quant::ComputeQParams({values.amin(1), values.amax(1)}, config);
}

// The paper's algorithm, column by column, float64.
at::Tensor ReferenceGptq(const at::Tensor& weight, const at::Tensor& hessian,
                         const quant::QuantConfig& config, double percent,
                         bool act_order, bool static_groups) {
  at::Tensor w = weight.to(at::kDouble).clone();
  at::Tensor h = hessian.to(at::kDouble).clone();
  const int64_t columns = w.size(1);
  const quant::QParams whole = ReferenceRange(w, config);
  const at::Tensor dead = h.diagonal() == 0;
  h.diagonal().masked_fill_(dead, 1.0);
  w.masked_fill_(dead.unsqueeze(0), 0.0);
  const int64_t group = config.group_size;
  std::vector<quant::QParams> groups;
  for (int64_t g = 0; static_groups && g < columns / group; ++g) {
    groups.push_back(ReferenceRange(w.narrow(1, g * group, group), config));
  }
  const at::Tensor order = act_order
                               ? std::get<1>(h.diagonal().sort(true, 0, true))
                               : at::arange(columns, at::kLong);
  w = w.index_select(1, order);
  h = h.index_select(0, order).index_select(1, order);
  h.diagonal().add_(percent * h.diagonal().mean().item<double>());
  at::Tensor inverse = at::inverse(h);
  at::Tensor quantized = at::zeros_like(w);
  quant::QParams current = whole;
  for (int64_t j = 0; j < columns; ++j) {
    if (group > 0 && static_groups) {
      current = groups[order[j].item<int64_t>() / group];
    } else if (group > 0 && j % group == 0) {
      current = ReferenceRange(w.narrow(1, j, group), config);
    }
    const at::Tensor column = w.select(1, j).clone();
    const at::Tensor q =
        quant::FakeQuantize(column.to(at::kFloat), current.scale,
                            current.zero_point, current.qmin, current.qmax)
            .to(at::kDouble);
    quantized.select(1, j).copy_(q);
    const at::Tensor error = (column - q) / inverse[j][j];
    w.narrow(1, j, columns - j)
        .sub_(at::outer(error, inverse[j].narrow(0, j, columns - j)));
    inverse = inverse - at::outer(inverse.select(1, j), inverse.select(0, j)) /
                            inverse[j][j];
  }
  return quantized.index_select(1, at::argsort(order)).to(at::kFloat);
}

// Correlated inputs with channels of very different scales: a Hessian far
// from diagonal, so GPTQ differs from RTN.
at::Tensor Inputs(int64_t tokens, int64_t columns, uint64_t seed = 11) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  const at::Tensor mixing = at::randn({columns, columns}, generator);
  const at::Tensor scales = at::rand({columns}, generator) * 3 + 0.1;
  return at::matmul(at::randn({tokens, columns}, generator), mixing) * scales;
}

at::Tensor HessianOf(const at::Tensor& x) {
  HessianAccumulator accumulator;
  accumulator.Add(x);
  return accumulator.Hessian();
}

at::Tensor Weight(int64_t out, int64_t in, uint64_t seed = 5) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  return at::randn({out, in}, generator);
}

double MaxDifference(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::string Describe(const quant::QuantConfig& config, const GptqOptions& o) {
  return quant::DescribeQuantConfig(config) +
         " block_size=" + std::to_string(o.block_size) +
         " act_order=" + std::to_string(o.act_order) +
         " static_groups=" + std::to_string(o.static_groups);
}

TEST(GptqSolverTest, MatchesAColumnByColumnReference) {
  const at::Tensor weight = Weight(24, 64);
  const at::Tensor hessian = HessianOf(Inputs(512, 64));
  for (const quant::QuantConfig& config : Configs()) {
    const bool grouped = config.granularity == quant::Granularity::kPerGroup;
    for (int64_t block_size : {128, 16, 5}) {
      for (bool act_order : {false, true}) {
        for (bool static_groups : {false, true}) {
          if (act_order && grouped && !static_groups) continue;
          if (!grouped && static_groups) continue;
          GptqOptions options;
          options.block_size = block_size;
          options.act_order = act_order;
          options.static_groups = static_groups;
          const GptqResult result = SolveGptq(weight, hessian, config, options);
          const at::Tensor expected = ReferenceGptq(
              weight, hessian, config, 0.01, act_order, static_groups);
          EXPECT_LE(MaxDifference(result.weight, expected), 1e-5)
              << Describe(config, options);
          EXPECT_EQ(result.dampening_retries, 0);
          EXPECT_EQ(result.dampening_percent, 0.01);
          // The returned (Δ, zp) are the ones the weight was rounded with.
          EXPECT_TRUE(at::equal(
              quant::FakeQuantize(result.weight, result.qparams,
                                  config.granularity, config.group_size),
              result.weight))
              << Describe(config, options);
        }
      }
    }
  }
}

TEST(GptqSolverTest, IdentityHessianIsRtn) {
  const at::Tensor weight = Weight(24, 64);
  const at::Tensor identity = at::eye(64, at::kDouble);
  for (const quant::QuantConfig& config : Configs()) {
    for (bool act_order : {false, true}) {
      GptqOptions options;
      options.act_order = act_order;
      options.static_groups = act_order;
      const GptqResult result = SolveGptq(weight, identity, config, options);
      const QuantizedWeight rtn = QuantizeWeight(weight, config);
      const std::string what = Describe(config, options);
      EXPECT_TRUE(at::equal(result.weight, rtn.weight)) << what;
      EXPECT_TRUE(at::equal(result.qparams.scale.reshape({-1}),
                            rtn.qparams.scale.reshape({-1})))
          << what;
      EXPECT_TRUE(at::equal(result.qparams.zero_point.reshape({-1}),
                            rtn.qparams.zero_point.reshape({-1})))
          << what;
    }
  }
}

TEST(GptqSolverTest, LowersTheLayerOutputErrorBelowRtn) {
  const at::Tensor weight = Weight(32, 64);
  const at::Tensor hessian = HessianOf(Inputs(512, 64));
  for (const quant::QuantConfig& config : Configs()) {
    for (bool act_order : {false, true}) {
      GptqOptions options;
      options.act_order = act_order;
      options.static_groups = act_order;
      const GptqResult result = SolveGptq(weight, hessian, config, options);
      const double gptq = LayerOutputError(weight, result.weight, hessian);
      const double rtn = LayerOutputError(
          weight, QuantizeWeight(weight, config).weight, hessian);
      EXPECT_LT(gptq, 0.8 * rtn) << Describe(config, options);
    }
  }
}

TEST(GptqSolverTest, ActOrderTakesTheLargestColumnsFirst) {
  // The last columns dominate H: with act_order the largest is rounded
  // first, before any error feedback, so it equals its plain rounding.
  const at::Tensor weight = Weight(16, 32);
  at::Tensor x = Inputs(256, 32);
  for (int64_t j = 28; j < 32; ++j) x.select(1, j).mul_(5.0 * (j - 26));
  const at::Tensor hessian = HessianOf(x);
  const quant::QuantConfig config =
      Config(4, false, quant::Granularity::kPerChannel);
  const at::Tensor rtn = QuantizeWeight(weight, config).weight;
  GptqOptions options;
  options.act_order = true;
  const GptqResult ordered = SolveGptq(weight, hessian, config, options);
  EXPECT_TRUE(at::equal(ordered.weight.select(1, 31), rtn.select(1, 31)));
  options.act_order = false;
  const GptqResult natural = SolveGptq(weight, hessian, config, options);
  EXPECT_FALSE(at::equal(ordered.weight, natural.weight));
  EXPECT_LT(LayerOutputError(weight, ordered.weight, hessian),
            LayerOutputError(weight, natural.weight, hessian));
}

TEST(GptqSolverTest, StaticGroupsTakeTheirRangesFromTheOriginalWeight) {
  const at::Tensor weight = Weight(24, 64);
  const at::Tensor hessian = HessianOf(Inputs(512, 64));
  const quant::QuantConfig config =
      Config(4, false, quant::Granularity::kPerGroup, 16);
  GptqOptions options;
  options.static_groups = true;
  const GptqResult fixed = SolveGptq(weight, hessian, config, options);
  const QuantizedWeight rtn = QuantizeWeight(weight, config);
  EXPECT_TRUE(at::equal(fixed.qparams.scale, rtn.qparams.scale));
  options.static_groups = false;
  const GptqResult updated = SolveGptq(weight, hessian, config, options);
  EXPECT_FALSE(at::equal(updated.qparams.scale, rtn.qparams.scale));
  // The first group's columns see no error feedback before their range.
  EXPECT_TRUE(at::equal(updated.qparams.scale.reshape({24, 4}).select(1, 0),
                        rtn.qparams.scale.reshape({24, 4}).select(1, 0)));
}

TEST(GptqSolverTest, DeadAndRankDeficientInputsGiveAFiniteResult) {
  // 40 tokens for 64 columns (rank < columns), two dead channels, one
  // channel duplicated.
  at::Tensor x = Inputs(40, 64);
  x.select(1, 3).zero_();
  x.select(1, 17).zero_();
  x.select(1, 30).copy_(x.select(1, 31));
  const at::Tensor hessian = HessianOf(x);
  const at::Tensor weight = Weight(24, 64);
  for (const quant::QuantConfig& config : Configs()) {
    for (double percent : {0.01, 0.0}) {
      GptqOptions options;
      options.dampening_percent = percent;
      const GptqResult result = SolveGptq(weight, hessian, config, options);
      const std::string what =
          Describe(config, options) + " percent=" + std::to_string(percent);
      EXPECT_TRUE(at::isfinite(result.weight).all().item<bool>()) << what;
      EXPECT_EQ(result.dead_columns, 2) << what;
      EXPECT_EQ(result.weight.select(1, 3).abs().max().item<float>(), 0.0f)
          << what;
      EXPECT_EQ(result.weight.select(1, 17).abs().max().item<float>(), 0.0f)
          << what;
      if (percent > 0) {
        EXPECT_LE(
            MaxDifference(result.weight, ReferenceGptq(weight, hessian, config,
                                                       percent, false, false)),
            1e-5)
            << what;
      }
    }
  }
}

TEST(GptqSolverTest, IndefiniteHessianIsRetriedWithMoreDampening) {
  at::Tensor hessian = HessianOf(Inputs(40, 64));
  hessian.diagonal().sub_(0.5 * hessian.diagonal().mean().item<double>());
  const at::Tensor weight = Weight(24, 64);
  const quant::QuantConfig config =
      Config(4, false, quant::Granularity::kPerGroup, 16);
  const GptqResult result = SolveGptq(weight, hessian, config, {});
  EXPECT_GT(result.dampening_retries, 0);
  EXPECT_GT(result.dampening_percent, 0.01);
  EXPECT_TRUE(at::isfinite(result.weight).all().item<bool>());
  EXPECT_TRUE(
      at::equal(quant::FakeQuantize(result.weight, result.qparams,
                                    config.granularity, config.group_size),
                result.weight));
  GptqOptions no_retries;
  no_retries.max_dampening_retries = 0;
  EXPECT_THROW(SolveGptq(weight, hessian, config, no_retries), MethodError);
}

TEST(GptqSolverTest, RefusesWhatItCannotSolve) {
  const at::Tensor weight = Weight(8, 32);
  const at::Tensor hessian = HessianOf(Inputs(64, 32));
  const quant::QuantConfig grouped =
      Config(4, false, quant::Granularity::kPerGroup, 8);
  GptqOptions act_order;
  act_order.act_order = true;  // Without static groups.
  EXPECT_THROW(SolveGptq(weight, hessian, grouped, act_order), MethodError);
  at::Tensor broken = hessian.clone();
  broken[2][3] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(SolveGptq(weight, broken, grouped, {}), MethodError);
  EXPECT_THROW(SolveGptq(weight, hessian.narrow(0, 0, 16), grouped, {}),
               MethodError);
  EXPECT_THROW(
      SolveGptq(weight, hessian,
                Config(4, false, quant::Granularity::kPerGroup, 12), {}),
      MethodError);
  quant::QuantConfig disabled = grouped;
  disabled.enabled = false;
  EXPECT_TRUE(
      at::equal(SolveGptq(weight, hessian, disabled, {}).weight, weight));
}

TEST(HessianAccumulatorTest, StreamsToTheHessianOfAllRows) {
  at::Generator generator = at::detail::createCPUGenerator(2);
  std::vector<at::Tensor> batches;
  HessianAccumulator accumulator;
  for (int64_t tokens : {5, 1, 9}) {
    batches.push_back(at::randn({2, tokens, 12}, generator));
    accumulator.Add(batches.back());
  }
  const at::Tensor rows = at::cat(batches, 1).reshape({-1, 12}).to(at::kDouble);
  EXPECT_EQ(accumulator.rows(), rows.size(0));
  EXPECT_TRUE(at::allclose(accumulator.Hessian(),
                           2.0 * at::matmul(rows.t(), rows) / rows.size(0),
                           1e-12, 1e-12));
  EXPECT_THROW(HessianAccumulator().Hessian(), MethodError);
  EXPECT_THROW(accumulator.Add(at::randn({3, 7})), MethodError);
}

}  // namespace
}  // namespace quantd::engine::methods
