// The awq method on blocks of every tiny architecture: its block output is
// no further from FP than RTN's, and clearly closer where an input channel
// carries an outlier; the scales it folds leave the FP block unchanged; the
// α grid's ends (α = 0 is RTN); the clipping search never raises a
// Linear's output error; the catalogue refuses schemes with quantized
// activations.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "worker/engine/methods/awq_search.h"
#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/methods/weight_quant.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {
namespace {

using testing::AllTinyConfigs;
using testing::EmbeddedInputs;
using testing::RelativeError;
using testing::TinyModel;

using BlockEdit = std::function<void(model::Block&)>;

struct BlockRun {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<ContextCache> contexts;
  std::unique_ptr<model::Block> block;  // Quantized.
  BlockInputs inputs;
  std::vector<at::Tensor> reference;  // The FP block's outputs.
  BlockOutcome outcome;
  double output_error = 0.0;  // Σ over batches of the output MSE to FP.
};

BlockRun QuantizeBlock0(const io::ModelConfig& config,
                        const std::string& method, const nlohmann::json& params,
                        const std::string& scheme, const BlockEdit& edit = {}) {
  BlockRun run;
  run.model = TinyModel(config);
  const quant::QuantScheme parsed = quant::ParseScheme(scheme);
  std::unique_ptr<Method> instance =
      FindMethod(method)->make(ParseMethodParams(method, params, parsed));
  run.inputs = EmbeddedInputs(*run.model, 3, 2, 8);
  run.contexts = std::make_unique<ContextCache>(*run.model, 8);
  run.block = run.model->LoadBlock(0);
  if (edit) edit(*run.block);
  run.reference = BlockOutputs(*run.block, run.inputs.quantized, *run.contexts);
  MethodContext context{run.model.get(), &parsed, run.contexts.get(), nullptr};
  run.outcome = instance->QuantizeBlock(*run.block, run.inputs, context);
  const std::vector<at::Tensor> outputs =
      BlockOutputs(*run.block, run.inputs.quantized, *run.contexts);
  for (size_t i = 0; i < outputs.size(); ++i) {
    run.output_error += MeanSquaredError(outputs[i], run.reference[i]);
  }
  return run;
}

// Multiplies channel `channel` of the norms that produce the attention and
// MLP inputs by `factor`: an outlier input channel at both sites.
BlockEdit Outliers(int64_t channel, double factor) {
  return [channel, factor](model::Block& block) {
    for (const model::InputSite& site : block.Sites()) {
      if (site.norm.empty()) continue;
      model::Norm& norm = block.norm(site.norm);
      at::Tensor gamma = norm.weight.clone();
      gamma[channel].mul_(factor);
      norm.weight = gamma;
    }
  };
}

std::string Name(const io::ModelConfig& config) {
  return std::string(io::ArchitectureName(config.architecture));
}

const LayerFigure* FigureOf(const BlockRun& run, const std::string& name) {
  for (const LayerFigure& figure : run.outcome.figures) {
    if (figure.name == name) return &figure;
  }
  return nullptr;
}

io::ModelConfig MultiHeadLlama() {
  io::ModelConfig config = model::testing::TinyLlamaConfig();
  config.num_kv_heads = config.num_heads;  // v -> o_proj can be scaled.
  return config;
}

TEST(AwqMethodTest, BlockOutputIsNoFurtherFromFpThanRtn) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    for (const char* scheme : {"w4a16-g16", "w3a16"}) {
      const std::string what = Name(config) + " " + scheme;
      const BlockRun rtn = QuantizeBlock0(config, "rtn", {}, scheme);
      const BlockRun awq = QuantizeBlock0(config, "awq", {}, scheme);
      EXPECT_LE(awq.output_error, rtn.output_error) << what;
      EXPECT_EQ(awq.outcome.figures.size(), awq.block->Sites().size()) << what;
      EXPECT_EQ(awq.outcome.state.weights.size(),
                awq.block->LinearNames().size())
          << what;
      EXPECT_TRUE(awq.outcome.state.activations.empty()) << what;
    }
  }
}

TEST(AwqMethodTest, OutlierChannelMakesItClearlyBetterThanRtn) {
  for (const io::ModelConfig& config :
       {model::testing::TinyLlamaConfig(), MultiHeadLlama()}) {
    for (const char* scheme : {"w4a16-g16", "w3a16"}) {
      const std::string what = Name(config) + " " + scheme;
      const BlockRun rtn =
          QuantizeBlock0(config, "rtn", {}, scheme, Outliers(5, 30.0));
      const BlockRun awq =
          QuantizeBlock0(config, "awq", {}, scheme, Outliers(5, 30.0));
      EXPECT_LT(awq.output_error, 0.5 * rtn.output_error) << what;
      for (const char* site : {"blocks.0.attn_in", "blocks.0.mlp_in"}) {
        const LayerFigure* figure = FigureOf(awq, site);
        ASSERT_NE(figure, nullptr) << what << " " << site;
        EXPECT_GT(figure->threshold, 0.0) << what << " " << site;
        EXPECT_LT(figure->loss_after, figure->loss_before)
            << what << " " << site;
        // The outlier channel is scaled up the most.
        EXPECT_GT(figure->scale_max, 1.5 * figure->scale_mean)
            << what << " " << site;
      }
    }
  }
}

// The weights just before rounding (the states' fp_weight, kept through
// later producer rescaling) with the transformed norms compute the FP block.
TEST(AwqMethodTest, TransformedFpBlockEqualsTheOriginal) {
  const std::vector<io::ModelConfig> configs = {
      model::testing::TinyLlamaConfig(), MultiHeadLlama(),
      model::testing::TinyOptConfig(true), model::testing::TinyOptConfig(false),
      model::testing::TinyBertConfig()};
  for (const io::ModelConfig& config : configs) {
    const std::string what =
        Name(config) + " kv_heads " + std::to_string(config.num_kv_heads) +
        " pre_norm " + std::to_string(config.do_layer_norm_before);
    BlockRun run = QuantizeBlock0(config, "awq", {{"clip", false}}, "w4a16-g16",
                                  Outliers(3, 20.0));
    int scaled = 0;
    for (const LayerFigure& figure : run.outcome.figures) {
      if (figure.threshold > 0.0) ++scaled;
    }
    EXPECT_GT(scaled, 0) << what;
    for (const WeightState& state : run.outcome.state.weights) {
      ASSERT_TRUE(state.fp_weight.defined()) << what << " " << state.linear;
      run.block->linear(state.linear).weight = state.fp_weight;
    }
    run.block->ClearHooks();
    const std::vector<at::Tensor> outputs =
        BlockOutputs(*run.block, run.inputs.quantized, *run.contexts);
    for (size_t i = 0; i < outputs.size(); ++i) {
      EXPECT_LT(RelativeError(outputs[i], run.reference[i]), 1e-5) << what;
    }
  }
}

TEST(AwqMethodTest, ScalesExactlyTheSitesWeightsCanAbsorb) {
  // GQA: V does not map one to one onto o_proj's input.
  const BlockRun gqa = QuantizeBlock0(model::testing::TinyLlamaConfig(), "awq",
                                      {}, "w4a16-g16", Outliers(3, 20.0));
  EXPECT_TRUE(std::isnan(FigureOf(gqa, "blocks.0.attn_out_in")->threshold));
  EXPECT_EQ(FigureOf(gqa, "blocks.0.attn_out_in")->loss_before,
            FigureOf(gqa, "blocks.0.attn_out_in")->loss_after);
  EXPECT_FALSE(std::isnan(FigureOf(gqa, "blocks.0.mlp_out_in")->threshold));
  const BlockRun mha = QuantizeBlock0(MultiHeadLlama(), "awq", {}, "w4a16-g16",
                                      Outliers(3, 20.0));
  EXPECT_FALSE(std::isnan(FigureOf(mha, "blocks.0.attn_out_in")->threshold));
  // BERT: attn_in and mlp_in feed the residual (only a runtime transform
  // could scale them), its GELU output has no producer; V -> out is scaled.
  const BlockRun bert =
      QuantizeBlock0(model::testing::TinyBertConfig(), "awq", {}, "w4a16-g16");
  for (const char* site :
       {"blocks.0.attn_in", "blocks.0.mlp_in", "blocks.0.mlp_out_in"}) {
    EXPECT_TRUE(std::isnan(FigureOf(bert, site)->threshold)) << site;
  }
  EXPECT_FALSE(std::isnan(FigureOf(bert, "blocks.0.attn_out_in")->threshold));
  EXPECT_TRUE(bert.outcome.state.activations.empty());
}

TEST(AwqMethodTest, AlphaGridEnds) {
  const std::vector<double> grid = AlphaGrid(20);
  ASSERT_EQ(grid.size(), 20u);
  EXPECT_EQ(grid.front(), 0.0);
  EXPECT_DOUBLE_EQ(grid.back(), 0.95);
  EXPECT_EQ(AlphaGrid(1), std::vector<double>{0.0});

  const at::Tensor mean_abs = at::tensor({0.5f, 2.0f, 8.0f, 0.0f});
  EXPECT_TRUE(at::equal(AwqScale(mean_abs, 0.0), at::ones({4})));
  // α = 1: proportional to mean |x| (the zero channel floored at 1e-4),
  // normalised so that max · min = 1.
  const at::Tensor full = AwqScale(mean_abs, 1.0);
  EXPECT_NEAR(full[2].item<double>() / full[1].item<double>(), 4.0, 1e-5);
  EXPECT_NEAR((full.max() * full.min()).item<double>(), 1.0, 1e-5);
  EXPECT_GT(full.min().item<double>(), 0.0);
}

TEST(AwqMethodTest, GridOfOneIsRtnAndEveryChoiceIsOnTheGrid) {
  const auto outliers = Outliers(5, 30.0);
  const io::ModelConfig config = model::testing::TinyLlamaConfig();
  const BlockRun rtn = QuantizeBlock0(config, "rtn", {}, "w4a16-g16", outliers);
  const BlockRun one = QuantizeBlock0(
      config, "awq", {{"grid", 1}, {"clip", false}}, "w4a16-g16", outliers);
  for (const std::string& name : one.block->LinearNames()) {
    EXPECT_TRUE(at::equal(one.block->linear(name).weight,
                          rtn.block->linear(name).weight))
        << name;
  }
  for (const LayerFigure& figure : one.outcome.figures) {
    EXPECT_TRUE(std::isnan(figure.threshold) || figure.threshold == 0.0)
        << figure.name;
    EXPECT_EQ(figure.loss_before, figure.loss_after) << figure.name;
  }
  EXPECT_DOUBLE_EQ(one.output_error, rtn.output_error);

  const BlockRun searched =
      QuantizeBlock0(config, "awq", {{"grid", 8}}, "w4a16-g16", outliers);
  for (const LayerFigure& figure : searched.outcome.figures) {
    if (std::isnan(figure.threshold)) continue;
    const double steps = figure.threshold * 8.0;
    EXPECT_EQ(steps, std::round(steps)) << figure.name;
    EXPECT_GE(figure.threshold, 0.0) << figure.name;
    EXPECT_LE(figure.threshold, 7.0 / 8.0) << figure.name;
    EXPECT_LE(figure.loss_after, figure.loss_before) << figure.name;
  }
}

// Σ_tokens of the squared output error per row, straight from the inputs.
at::Tensor DirectRowErrors(const at::Tensor& x, const at::Tensor& weight,
                           const at::Tensor& quantized) {
  const at::Tensor d = quantized.to(at::kDouble) - weight.to(at::kDouble);
  return at::mm(x.to(at::kDouble), d.t()).pow(2).sum(0);
}

TEST(AwqClipTest, NeverIncreasesALinearsOutputError) {
  at::Generator generator = at::detail::createCPUGenerator(11);
  // Heavy-tailed weights and inputs with a few loud channels.
  const at::Tensor weight =
      at::randn({24, 64}, generator) *
      (1.0 + 12.0 * (at::rand({24, 64}, generator) < 0.03).to(at::kFloat));
  const at::Tensor x =
      at::randn({300, 64}, generator) *
      (1.0 + 6.0 * (at::rand({64}, generator) < 0.1).to(at::kFloat));
  const at::Tensor gram = at::mm(x.t().to(at::kDouble), x.to(at::kDouble));
  for (const char* scheme : {"w3a16-g16", "w4a16-g32", "w3a16"}) {
    const quant::QuantConfig config = quant::ParseScheme(scheme).weight;
    const ClipResult clip =
        SearchWeightClip(weight, gram, x.size(0), config, ClipOptions{});
    const at::Tensor before =
        DirectRowErrors(x, weight, QuantizeWeight(weight, config).weight);
    const at::Tensor after =
        DirectRowErrors(x, weight, QuantizeWeight(clip.weight, config).weight);
    EXPECT_TRUE((after <= before * (1 + 1e-9)).all().item<bool>()) << scheme;
    EXPECT_LT(after.sum().item<double>(), 0.95 * before.sum().item<double>())
        << scheme;
    const double norm = static_cast<double>(x.size(0) * weight.size(0));
    EXPECT_NEAR(clip.error_before, before.sum().item<double>() / norm,
                1e-6 * clip.error_before)
        << scheme;
    EXPECT_NEAR(clip.error_after, after.sum().item<double>() / norm,
                1e-6 * clip.error_before)
        << scheme;
    EXPECT_TRUE(at::allclose(
        RowOutputErrors(weight, QuantizeWeight(clip.weight, config).weight,
                        gram),
        after, 1e-9, 1e-9))
        << scheme;
    // Every chosen ratio is on the grid, and the clamp keeps signs.
    EXPECT_TRUE((clip.ratio <= 1.0).all().item<bool>()) << scheme;
    EXPECT_TRUE((clip.ratio > 0.5).all().item<bool>()) << scheme;
    EXPECT_TRUE((clip.ratio < 1.0).any().item<bool>()) << scheme;
    EXPECT_TRUE((clip.weight.abs() <= weight.abs()).all().item<bool>())
        << scheme;
    EXPECT_TRUE((clip.weight * weight >= 0).all().item<bool>()) << scheme;
  }
  // Per-tensor ranges are not clipped per row.
  const quant::QuantConfig per_tensor = quant::ParseScheme("w8a8-pt").weight;
  EXPECT_TRUE(at::equal(
      SearchWeightClip(weight, gram, x.size(0), per_tensor, {}).weight,
      weight));
}

TEST(AwqClipTest, RatiosFollowTheReferenceGrid) {
  const std::vector<double> ratios = ClipRatios({20, 0.5});
  ASSERT_EQ(ratios.size(), 10u);
  EXPECT_EQ(ratios.front(), 1.0);
  EXPECT_DOUBLE_EQ(ratios.back(), 0.55);
  EXPECT_EQ(ClipRatios({20, 0.0}), std::vector<double>{1.0});
  EXPECT_EQ(ClipRatios({4, 1.0}).size(), 4u);
}

TEST(AwqMethodTest, CatalogueRefusesQuantizedActivations) {
  for (const char* scheme : {"w8a8", "w4a4", "w8a8-pt"}) {
    try {
      ParseMethodParams("awq", {}, quant::ParseScheme(scheme));
      FAIL() << scheme << " was accepted";
    } catch (const ParamError& error) {
      EXPECT_EQ(error.field(), "scheme.activations") << scheme;
      EXPECT_NE(std::string(error.what()).find("weight-only"),
                std::string::npos)
          << error.what();
    }
  }
  const MethodParams params =
      ParseMethodParams("awq", {}, quant::ParseScheme("w4a16-g64"));
  EXPECT_EQ(params.Integer("grid"), 20);
  EXPECT_TRUE(params.Bool("clip"));
  EXPECT_EQ(params.Integer("clip_grid"), 20);
  EXPECT_EQ(params.Number("max_shrink"), 0.5);
  EXPECT_EQ(params.Integer("search_tokens"), 4096);
  try {
    ParseMethodParams("awq", {{"grid", 0}}, quant::ParseScheme("w4a16"));
    FAIL() << "grid 0 was accepted";
  } catch (const ParamError& error) {
    EXPECT_EQ(error.field(), "method_params.grid");
  }
}

}  // namespace
}  // namespace quantd::engine::methods
