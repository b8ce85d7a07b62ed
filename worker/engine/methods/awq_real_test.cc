// AWQ on a REAL SmolLM2 block (RMSNorm, GQA, SiLU MLP with SmolLM2's
// massive down_proj activations): at w4a16-g64 its block output is closer
// to the FP output than RTN's, and the scales it folds (without clipping)
// leave the FP block's output unchanged within 1e-5 relative. The model
// must have been installed by scripts/bootstrap; the test fails otherwise.
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/methods/real_block_test_util.h"
#include "worker/engine/methods/registry.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {
namespace {

using testing::RelativeError;

constexpr char kSmolLm2[] = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

BlockOutcome Quantize(testing::RealBlock& real, ContextCache& contexts,
                      const std::string& method, const nlohmann::json& params,
                      const quant::QuantScheme& scheme) {
  std::unique_ptr<Method> instance =
      FindMethod(method)->make(ParseMethodParams(method, params, scheme));
  BlockInputs inputs;
  inputs.quantized = {real.input};
  MethodContext context{real.loaded.model.get(), &scheme, &contexts, nullptr};
  return instance->QuantizeBlock(*real.block, inputs, context);
}

TEST(AwqRealTest, SmolLm2BlockBeatsRtnAndStaysFpEquivalent) {
  at::NoGradGuard no_grad;
  testing::RealBlock real = testing::LoadRealBlock(kSmolLm2, 3);
  ContextCache contexts(*real.loaded.model, real.input.size(1));
  const at::Tensor fp = real.block->Forward(real.input, real.context);
  const quant::QuantScheme scheme = quant::ParseScheme("w4a16-g64");
  const BlockSnapshot snapshot(*real.block);

  Quantize(real, contexts, "rtn", {}, scheme);
  const double rtn =
      MeanSquaredError(real.block->Forward(real.input, real.context), fp);
  snapshot.Restore(*real.block);

  const BlockOutcome awq = Quantize(real, contexts, "awq", {}, scheme);
  const double error =
      MeanSquaredError(real.block->Forward(real.input, real.context), fp);
  snapshot.Restore(*real.block);
  std::printf("SmolLM2 block 3 w4a16-g64 output MSE: rtn %.6g awq %.6g\n", rtn,
              error);
  EXPECT_LT(error, rtn);
  ASSERT_EQ(awq.figures.size(), 4u);
  for (const LayerFigure& figure : awq.figures) {
    std::printf("  %s alpha %g loss %.6g -> %.6g scale [%.3g, %.3g]\n",
                figure.name.c_str(), figure.threshold, figure.loss_before,
                figure.loss_after, figure.scale_min, figure.scale_max);
    EXPECT_LE(figure.loss_after, figure.loss_before) << figure.name;
  }
  // GQA (9 heads, 3 KV heads): v -> o_proj is not scaled.
  EXPECT_TRUE(std::isnan(awq.figures[1].threshold));

  const BlockOutcome unclipped =
      Quantize(real, contexts, "awq", {{"clip", false}}, scheme);
  for (const WeightState& state : unclipped.state.weights) {
    real.block->linear(state.linear).weight = state.fp_weight;
  }
  real.block->ClearHooks();
  const double drift =
      RelativeError(real.block->Forward(real.input, real.context), fp);
  std::printf("  folded scales, FP output relative change %.3g\n", drift);
  EXPECT_LT(drift, 1e-5);
}

}  // namespace
}  // namespace quantd::engine::methods
