// OmniQuant's learned equivalent transformation, fused, leaves the FP
// output of REAL blocks unchanged within 1e-5 relative: SmolLM2 (RMSNorm,
// RoPE, GQA: the norm scales and the tied Q/K scale) and MiniLM (Post-LN
// with biases: shifts and scales in the site hooks, v -> out_proj with a
// shift). The transformation is trained for a few steps at W4A4 with Q, K
// and V quantized first, so every pair has moved off its initialisation.
// The models must have been installed by scripts/bootstrap; the test fails
// otherwise.
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "worker/engine/methods/block_session.h"
#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/methods/omniquant_let.h"
#include "worker/engine/methods/omniquant_trainer.h"
#include "worker/engine/methods/real_block_test_util.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {
namespace {

using testing::RelativeError;

// Trains LET (and LWC) on block `index` for a few steps, fuses the
// transformation and returns the FP block's relative output change.
double FusedError(const char* relative, int64_t index, size_t* pair_count) {
  at::NoGradGuard no_grad;
  testing::RealBlock real = testing::LoadRealBlock(relative, index);
  const model::Model& m = *real.loaded.model;
  const at::Tensor& input = real.input;
  const model::ForwardContext& context = real.context;
  std::unique_ptr<model::Block>& block = real.block;
  ContextCache contexts(m, input.size(1));
  const at::Tensor before = block->Forward(input, context);

  const quant::QuantScheme scheme = quant::ParseScheme("w4a4");
  quant::QuantConfig weight = scheme.weight, activation = scheme.activation;
  weight.include_zero = activation.include_zero = false;
  LetOptions options;
  options.shift = true;
  options.query_key = true;
  options.heads = {m.config().num_heads, m.config().num_kv_heads,
                   m.config().head_dim};
  LearnableTransform let(
      *block, CollectLetStatistics(*block, {input}, contexts), options);
  *pair_count = let.pairs().size();
  std::vector<at::Tensor> initial;
  for (const at::Tensor& p : let.parameters()) initial.push_back(p.clone());
  std::map<std::string, LearnableClipping> clipping;
  for (const std::string& name : block->LinearNames()) {
    clipping.emplace(
        name, LearnableClipping(block->linear(name).weight, weight, true));
  }
  std::map<model::HookPoint, quant::QuantConfig> quantizers;
  for (int i = 0; i < 7; ++i) {
    quantizers[static_cast<model::HookPoint>(i)] = activation;
  }
  {
    BlockTrainer trainer(*block, let, clipping, quantizers, contexts);
    TrainingOptions training;
    training.epochs = 3;
    training.let_lr = 1e-2;
    at::AutoGradMode grad(true);
    trainer.Train({input, before, at::Tensor()}, training, {});
  }
  // Every pair has learned something.
  for (size_t i = 0; i < initial.size(); ++i) {
    EXPECT_FALSE(at::equal(initial[i], let.parameters()[i])) << i;
  }
  BlockQuantState state;
  for (const auto& [point, transform] : let.Fuse(*block)) {
    ActivationState fp;
    fp.point = point;
    fp.config.enabled = false;
    fp.transform = transform;
    state.activations.push_back(fp);
  }
  InstallActivationQuantizers(*block, state);
  const double error = RelativeError(block->Forward(input, context), before);
  std::printf("%s block %ld: fused LET relative error %.3g\n", relative,
              static_cast<long>(index), error);
  return error;
}

TEST(OmniQuantRealTest, FusedTransformKeepsSmolLm2BlockOutput) {
  size_t pairs = 0;
  const double error =
      FusedError("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 2, &pairs);
  EXPECT_LT(error, 1e-5);
  EXPECT_EQ(pairs, 3u);  // attn_in, mlp_in, Q/K (GQA: no v -> o_proj).
}

TEST(OmniQuantRealTest, FusedTransformKeepsMiniLmBlockOutput) {
  size_t pairs = 0;
  const double error = FusedError("all-minilm-l6-v2", 2, &pairs);
  EXPECT_LT(error, 1e-5);
  EXPECT_EQ(pairs, 4u);  // attn_in, mlp_in (hooks), v -> out, Q/K.
}

}  // namespace
}  // namespace quantd::engine::methods
