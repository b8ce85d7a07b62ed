// Every registered method quantizes a block of every tiny architecture into
// a consistent state: all weights on their grids, an activation quantizer
// at every input site, a state that serialises and reinstalls to the same
// block output, figures where the method defines them, and determinism.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/quant/fake_quant.h"

namespace quantd::engine::methods {
namespace {

using testing::AllTinyConfigs;
using testing::EmbeddedInputs;
using testing::TinyModel;

struct QuantizedRun {
  BlockOutcome outcome;
  at::Tensor output;  // Quantized block on batch 0.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
};

QuantizedRun QuantizeBlock0(const io::ModelConfig& config,
                            const std::string& method,
                            const nlohmann::json& params,
                            const std::string& scheme) {
  auto model = TinyModel(config);
  quant::QuantScheme parsed = quant::ParseScheme(scheme);
  MethodParams method_params = ParseMethodParams(method, params, parsed);
  std::unique_ptr<Method> instance = FindMethod(method)->make(method_params);
  BlockInputs inputs = EmbeddedInputs(*model, 2, 2, 8);
  ContextCache contexts(*model, 8);
  auto block = model->LoadBlock(0);
  MethodContext context{model.get(), &parsed, &contexts, nullptr};
  QuantizedRun run;
  run.outcome = instance->QuantizeBlock(*block, inputs, context);
  run.output = block->Forward(inputs.quantized[0], contexts.For(2));
  run.tensors = block->NamedTensors();
  return run;
}

void ExpectWeightsOnTheirGrids(const QuantizedRun& run,
                               const std::string& what) {
  for (const WeightState& weight : run.outcome.state.weights) {
    const at::Tensor* tensor = nullptr;
    for (const auto& [name, value] : run.tensors) {
      if (name.ends_with("." + weight.linear + ".weight")) {
        tensor = &value;
      }
    }
    ASSERT_NE(tensor, nullptr) << what << " " << weight.linear;
    at::Tensor again =
        quant::FakeQuantize(*tensor, weight.qparams, weight.config.granularity,
                            weight.config.group_size);
    EXPECT_TRUE(at::equal(again, *tensor)) << what << " " << weight.linear;
  }
}

TEST(MethodsFlowTest, EveryMethodLeavesAConsistentQuantizedBlock) {
  const std::map<std::string, nlohmann::json> methods = {
      {"rtn", {}},
      {"smoothquant", {{"alpha_search", true}, {"alpha_step", 0.25}}},
      {"os", {}},
      {"osplus", {{"search_tokens", 8}, {"search_batch", 16}}}};
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    for (const auto& [method, params] : methods) {
      for (const char* scheme : {"w4a4", "w6a6-pt"}) {
        const std::string what =
            std::string(io::ArchitectureName(config.architecture)) + " " +
            method + " " + scheme;
        QuantizedRun run = QuantizeBlock0(config, method, params, scheme);
        EXPECT_TRUE(at::isfinite(run.output).all().item<bool>()) << what;
        EXPECT_EQ(run.outcome.state.weights.size(),
                  6u + (config.architecture == io::Architecture::kLlama));
        int sites = 0;
        for (const ActivationState& a : run.outcome.state.activations) {
          sites += a.point == model::HookPoint::kAttnIn ||
                   a.point == model::HookPoint::kAttnOutIn ||
                   a.point == model::HookPoint::kMlpIn ||
                   a.point == model::HookPoint::kMlpOutIn;
          EXPECT_EQ(a.qparams.has_value(), !a.config.dynamic) << what;
        }
        EXPECT_EQ(sites, 4) << what;
        ExpectWeightsOnTheirGrids(run, what);
        if (method == "osplus" || method == "os") {  // Deterministic.
          QuantizedRun again = QuantizeBlock0(config, method, params, scheme);
          EXPECT_TRUE(at::equal(run.output, again.output)) << what;
        }
      }
    }
  }
}

TEST(MethodsFlowTest, StateRoundTripsThroughTensorsAndJson) {
  QuantizedRun run = QuantizeBlock0(model::testing::TinyBertConfig(), "osplus",
                                    {{"search_tokens", 8}}, "w6a6-pt");
  const std::string prefix = "encoder.layer.0.";
  std::map<std::string, at::Tensor> stored;
  for (const auto& [name, tensor] : StateTensors(run.outcome.state, prefix)) {
    stored[name] = tensor;
  }
  BlockQuantState loaded =
      StateFromJson(StateToJson(run.outcome.state), prefix,
                    [&](const std::string& name) { return stored.at(name); });
  // Reinstall on a block carrying the quantized tensors.
  auto model = TinyModel(model::testing::TinyBertConfig());
  auto block = model->LoadBlock(0);
  for (const std::string& name : block->LinearNames()) {
    for (const auto& [full, tensor] : run.tensors) {
      if (full == prefix + name + ".weight")
        block->linear(name).weight = tensor;
      if (full == prefix + name + ".bias") block->linear(name).bias = tensor;
    }
  }
  for (const std::string& name : block->NormNames()) {
    for (const auto& [full, tensor] : run.tensors) {
      if (full == prefix + name + ".weight") block->norm(name).weight = tensor;
      if (full == prefix + name + ".bias") block->norm(name).bias = tensor;
    }
  }
  InstallActivationQuantizers(*block, loaded);
  BlockInputs inputs = EmbeddedInputs(*model, 2, 2, 8);
  ContextCache contexts(*model, 8);
  EXPECT_TRUE(at::equal(block->Forward(inputs.quantized[0], contexts.For(2)),
                        run.output));
}

TEST(MethodsFlowTest, OsPlusReportsFiguresAndFoldsUpDown) {
  QuantizedRun run =
      QuantizeBlock0(model::testing::TinyLlamaConfig(), "osplus",
                     {{"search_tokens", 8}, {"up_down", true}}, "w4a4");
  std::vector<std::string> names;
  for (const LayerFigure& figure : run.outcome.figures) {
    names.push_back(figure.name);
    EXPECT_LE(figure.loss_after, figure.loss_before) << figure.name;
    EXPECT_GT(figure.threshold, 0.0) << figure.name;
    EXPECT_GE(figure.scale_min, 1.0) << figure.name;
  }
  EXPECT_THAT(names,
              ::testing::ElementsAre("blocks.0.attn_in", "blocks.0.mlp_in",
                                     "blocks.0.mlp_out_in"));
}

TEST(MethodsFlowTest, OsPlusPairsUpDownByDefaultWherePerRowStepsAllowIt) {
  // up_down unset: on for per-channel (w4a4) and per-group weights, off for
  // per-tensor ones, which have no per-row step to fold the scale into;
  // explicitly false turns it off.
  auto names = [](const QuantizedRun& run) {
    std::vector<std::string> out;
    for (const LayerFigure& figure : run.outcome.figures) {
      out.push_back(figure.name);
    }
    return out;
  };
  const io::ModelConfig llama = model::testing::TinyLlamaConfig();
  EXPECT_THAT(
      names(QuantizeBlock0(llama, "osplus", {{"search_tokens", 8}}, "w4a4")),
      ::testing::Contains("blocks.0.mlp_out_in"));
  EXPECT_THAT(names(QuantizeBlock0(llama, "osplus", {{"search_tokens", 8}},
                                   "w4a16-g16")),
              ::testing::Contains("blocks.0.mlp_out_in"));
  EXPECT_THAT(
      names(QuantizeBlock0(llama, "osplus", {{"search_tokens", 8}}, "w8a8-pt")),
      ::testing::Not(::testing::Contains("blocks.0.mlp_out_in")));
  EXPECT_THAT(
      names(QuantizeBlock0(llama, "osplus",
                           {{"search_tokens", 8}, {"up_down", false}}, "w4a4")),
      ::testing::Not(::testing::Contains("blocks.0.mlp_out_in")));
}

}  // namespace
}  // namespace quantd::engine::methods
