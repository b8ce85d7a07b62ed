// The gptq method on a block of every tiny architecture: every Linear
// solved against the Hessian of its own calibration inputs (with the
// earlier sites already quantized), left on the grid its state describes,
// one figure per Linear, activations as RTN has them, and the catalogue's
// checks of its parameters; the Hessians of the unquantized block without
// true_sequential; and GPTQ as a recipe's rounding stage after a
// transform (osplus+gptq, smoothquant+gptq).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/gptq_solver.h"
#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/quant/fake_quant.h"

namespace quantd::engine::methods {
namespace {

using testing::AllTinyConfigs;
using testing::EmbeddedInputs;
using testing::TinyModel;

struct BlockRun {
  BlockOutcome outcome;
  std::map<std::string, at::Tensor> weights;  // Block-relative names.
  double output_error = 0.0;                  // Block output MSE to FP.
};

BlockRun QuantizeBlock0(const io::ModelConfig& config,
                        const std::string& method, const nlohmann::json& params,
                        const std::string& scheme) {
  auto model = TinyModel(config);
  quant::QuantScheme parsed = quant::ParseScheme(scheme);
  std::unique_ptr<Method> instance =
      MakeRecipeMethod(ParseRecipe(method, params, parsed));
  BlockInputs inputs = EmbeddedInputs(*model, 3, 2, 8);
  ContextCache contexts(*model, 8);
  auto block = model->LoadBlock(0);
  std::vector<at::Tensor> reference =
      BlockOutputs(*block, inputs.quantized, contexts);
  MethodContext context{model.get(), &parsed, &contexts, nullptr};
  BlockRun run;
  run.outcome = instance->QuantizeBlock(*block, inputs, context);
  for (const std::string& name : block->LinearNames()) {
    run.weights[name] = block->linear(name).weight;
  }
  std::vector<at::Tensor> outputs =
      BlockOutputs(*block, inputs.quantized, contexts);
  for (size_t i = 0; i < outputs.size(); ++i) {
    run.output_error += MeanSquaredError(outputs[i], reference[i]);
  }
  return run;
}

std::string Name(const io::ModelConfig& config) {
  return std::string(io::ArchitectureName(config.architecture));
}

TEST(GptqMethodTest, LeavesEveryLinearOnItsGridWithAFigure) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    for (const char* scheme : {"w4a16-g16", "w4a4", "w3a16"}) {
      for (bool act_order : {false, true}) {
        const std::string what =
            Name(config) + " " + scheme + (act_order ? " act_order" : "");
        BlockRun run =
            QuantizeBlock0(config, "gptq", {{"act_order", act_order}}, scheme);
        ASSERT_EQ(run.outcome.state.weights.size(), run.weights.size()) << what;
        ASSERT_EQ(run.outcome.figures.size(), run.weights.size()) << what;
        double rtn_error = 0.0;
        double gptq_error = 0.0;
        for (const WeightState& state : run.outcome.state.weights) {
          const at::Tensor& weight = run.weights.at(state.linear);
          EXPECT_TRUE(at::equal(quant::FakeQuantize(weight, state.qparams,
                                                    state.config.granularity,
                                                    state.config.group_size),
                                weight))
              << what << " " << state.linear;
          EXPECT_FALSE(at::equal(weight, state.fp_weight)) << what;
        }
        for (const LayerFigure& figure : run.outcome.figures) {
          EXPECT_TRUE(figure.name.starts_with("blocks.0.")) << figure.name;
          EXPECT_EQ(figure.threshold, 0.01) << what;
          rtn_error += figure.loss_before;
          gptq_error += figure.loss_after;
        }
        EXPECT_LT(gptq_error, rtn_error) << what;
        EXPECT_TRUE(std::isfinite(run.output_error)) << what;
        const bool activations = std::string(scheme) == "w4a4";
        EXPECT_EQ(run.outcome.state.activations.empty(), !activations) << what;
      }
    }
  }
}

bool IsLinearFigure(const BlockRun& run, const LayerFigure& figure) {
  for (const auto& [name, weight] : run.weights) {
    if (figure.name == "blocks.0." + name) return true;
  }
  return false;
}

TEST(GptqRecipeTest, TheTransformRunsThenGptqRoundsWhatItLeaves) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    for (const char* transform : {"osplus", "smoothquant"}) {
      const std::string what = Name(config) + " " + transform;
      const BlockRun alone = QuantizeBlock0(config, transform, {}, "w4a8");
      const BlockRun recipe =
          QuantizeBlock0(config, std::string(transform) + "+gptq", {}, "w4a8");
      ASSERT_EQ(recipe.outcome.state.weights.size(), recipe.weights.size())
          << what;
      size_t gptq_figures = 0;
      size_t transform_figures = 0;
      for (const LayerFigure& figure : recipe.outcome.figures) {
        if (!IsLinearFigure(recipe, figure)) {
          ++transform_figures;
          continue;
        }
        ++gptq_figures;
        EXPECT_EQ(figure.threshold, 0.01) << what << " " << figure.name;
        EXPECT_LE(figure.loss_after, figure.loss_before)
            << what << " " << figure.name;
      }
      EXPECT_EQ(gptq_figures, recipe.weights.size()) << what;
      EXPECT_EQ(transform_figures, alone.outcome.figures.size()) << what;
      bool any_differs = false;
      for (const WeightState& state : recipe.outcome.state.weights) {
        const at::Tensor& weight = recipe.weights.at(state.linear);
        EXPECT_TRUE(at::equal(
            quant::FakeQuantize(weight, state.qparams, state.config.granularity,
                                state.config.group_size),
            weight))
            << what << " " << state.linear;
        any_differs |= !at::equal(weight, alone.weights.at(state.linear));
      }
      EXPECT_TRUE(any_differs) << what << ": GPTQ changed no weight";
      EXPECT_TRUE(std::isfinite(recipe.output_error)) << what;
    }
  }
}

TEST(GptqRecipeTest, RtnAsTheRoundingStageIsTheTransformAlone) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    const BlockRun alone = QuantizeBlock0(config, "osplus", {}, "w4a8");
    const BlockRun recipe = QuantizeBlock0(config, "osplus+rtn", {}, "w4a8");
    for (const auto& [name, weight] : alone.weights) {
      EXPECT_TRUE(at::equal(weight, recipe.weights.at(name)))
          << Name(config) << " " << name;
    }
    EXPECT_EQ(recipe.output_error, alone.output_error) << Name(config);
  }
}

TEST(GptqMethodTest, BlockOutputIsCloserToFpThanRtn) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    const BlockRun rtn = QuantizeBlock0(config, "rtn", {}, "w3a16");
    const BlockRun gptq = QuantizeBlock0(config, "gptq", {}, "w3a16");
    EXPECT_LT(gptq.output_error, rtn.output_error) << Name(config);
  }
}

// true_sequential off: each Linear is solved against the Hessian of the
// inputs it sees in the unquantized block (llm-compressor's layer-wise
// collection); on (the default), the later sites see quantized inputs, so
// some Linear comes out different.
TEST(GptqMethodTest, WithoutTrueSequentialEveryHessianIsTheUnquantizedBlocks) {
  const quant::QuantScheme scheme = quant::ParseScheme("w4a16-g16");
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    auto model = TinyModel(config);
    BlockInputs inputs = EmbeddedInputs(*model, 3, 2, 8);
    ContextCache contexts(*model, 8);
    auto block = model->LoadBlock(0);
    MethodContext context{model.get(), &scheme, &contexts, nullptr};
    BlockSession session(*block, inputs, context,
                         DefaultActivationPlan(scheme));
    GptqOptions defaults;  // The method's: act order, static groups.
    defaults.act_order = true;
    defaults.static_groups = true;
    std::map<std::string, at::Tensor> expected;
    for (const model::InputSite& site : block->Sites()) {
      HessianAccumulator hessian;
      for (size_t i = 0; i < session.batch_count(); ++i) {
        hessian.Add(session.Capture(site.point, i));
      }
      for (const std::string& name : site.consumers) {
        expected[name] = SolveGptq(block->linear(name).weight,
                                   hessian.Hessian(), scheme.weight, defaults)
                             .weight;
      }
    }
    const BlockRun layerwise = QuantizeBlock0(
        config, "gptq", {{"true_sequential", false}}, "w4a16-g16");
    const BlockRun sequential = QuantizeBlock0(config, "gptq", {}, "w4a16-g16");
    ASSERT_EQ(layerwise.weights.size(), expected.size()) << Name(config);
    bool sequential_differs = false;
    for (const auto& [name, weight] : expected) {
      EXPECT_TRUE(at::equal(layerwise.weights.at(name), weight))
          << Name(config) << " " << name;
      sequential_differs |= !at::equal(sequential.weights.at(name), weight);
    }
    EXPECT_TRUE(sequential_differs) << Name(config);
  }
}

TEST(GptqMethodTest, CatalogueChecksItsParameters) {
  const quant::QuantScheme grouped = quant::ParseScheme("w4a16-g16");
  try {
    ParseMethodParams("gptq", {{"static_groups", false}}, grouped);
    FAIL() << "act_order without static groups was accepted";
  } catch (const ParamError& error) {
    EXPECT_EQ(error.field(), "method_params.static_groups");
  }
  MethodParams params = ParseMethodParams("gptq", {}, grouped);
  EXPECT_EQ(params.Number("dampening_percent"), 0.01);
  EXPECT_EQ(params.Integer("block_size"), 128);
  EXPECT_TRUE(params.Bool("act_order"));
  EXPECT_FALSE(params.Has("static_groups"));
  EXPECT_TRUE(params.Bool("true_sequential"));
  EXPECT_THROW(ParseMethodParams("gptq", {{"block_size", 0}}, grouped),
               ParamError);
}

}  // namespace
}  // namespace quantd::engine::methods
