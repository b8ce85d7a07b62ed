// Every equivalent transformation the methods apply — OS+ shift and scale
// (with the searched threshold), the up→down pair, SmoothQuant's scale and
// OS's gamma migration — leaves the FP output of REAL blocks unchanged
// within 1e-5 relative: SmolLM2 (LLaMA: RMSNorm, RoPE, GQA) and MiniLM
// (BERT: Post-LN, biases, residual compensation in the hook). The models
// must have been installed by scripts/bootstrap; the test fails otherwise.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "worker/engine/methods/equivalent_transform.h"
#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/methods/osplus_search.h"
#include "worker/engine/methods/real_block_test_util.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {
namespace {

using testing::RelativeError;

using testing::LoadRealBlock;
using testing::RealBlock;

at::Tensor Capture(model::Block& block, const RealBlock& real,
                   model::HookPoint point) {
  at::Tensor captured;
  block.SetHook(point, [&captured](const at::Tensor& x) {
    captured = x;
    return x;
  });
  block.Forward(real.input, real.context);
  block.ClearHooks();
  return captured;
}

// Applies shift/scale at `site` the way the methods do and installs the
// hook transform when the site needs one.
void Apply(model::Block& block, const model::InputSite& site,
           const at::Tensor& shift, const at::Tensor& scale,
           BlockQuantState& state) {
  InputTransform transform = TransformSite(block, site, shift, scale);
  if (transform.empty()) return;
  ActivationState activation;
  activation.point = site.point;
  activation.config.enabled = false;
  activation.transform = transform;
  state.activations.push_back(activation);
}

// OS+: z from the statistics, s(t*) from the search (w4a4 losses).
void OsPlusTransform(model::Block& block, const RealBlock& real,
                     ContextCache& contexts, BlockQuantState& state) {
  for (const model::InputSite& site : block.Sites()) {
    if (!CanScaleSite(site) || site.point == model::HookPoint::kAttnOutIn) {
      continue;
    }
    at::Tensor x = Capture(block, real, site.point);
    at::Tensor shift;
    if (CanShiftSite(block, site)) {
      at::Tensor flat = x.reshape({-1, x.size(-1)});
      shift = (std::get<0>(flat.max(0)) + std::get<0>(flat.min(0))) / 2;
      x = x - shift;
    }
    quant::QuantScheme scheme = quant::ParseScheme("w4a4");
    ThresholdSearchInput input;
    input.block = &block;
    input.site = &site;
    input.activation = x;
    input.consumers = TransformedConsumers(block, site, shift, at::Tensor());
    input.weight = scheme.weight;
    input.activation_quant = scheme.activation;
    input.lower_bound = shift.defined() ? 1.0 : 0.1;
    input.search_tokens = 64;
    input.candidates_per_batch = 16;
    input.contexts = &contexts;
    ThresholdChoice choice = ThresholdSearch(input).Run();
    ASSERT_GT(choice.scale.max().item<double>(), 1.0) << site.name;
    Apply(block, site, shift, choice.scale, state);
  }
}

void SmoothQuantTransform(model::Block& block, const RealBlock& real,
                          BlockQuantState& state) {
  for (const model::InputSite& site : block.Sites()) {
    if (!CanScaleSite(site) || site.point == model::HookPoint::kAttnOutIn) {
      continue;
    }
    at::Tensor x = Capture(block, real, site.point);
    at::Tensor act = std::get<0>(x.abs().reshape({-1, x.size(-1)}).max(0));
    at::Tensor weight;
    for (const model::Linear& layer : block.Consumers(site.name)) {
      at::Tensor m = std::get<0>(layer.weight.abs().max(0));
      weight = weight.defined() ? at::maximum(weight, m) : m;
    }
    at::Tensor scale =
        (act.pow(0.5) / weight.clamp_min(1e-5).pow(0.5)).clamp_min(1e-5);
    Apply(block, site, at::Tensor(), scale, state);
  }
}

double ErrorAfter(
    const char* relative, int64_t index,
    const std::function<void(RealBlock&, BlockQuantState&)>& transform) {
  RealBlock real = LoadRealBlock(relative, index);
  const at::Tensor before = real.block->Forward(real.input, real.context);
  BlockQuantState state;
  transform(real, state);
  InstallActivationQuantizers(*real.block, state);
  return RelativeError(real.block->Forward(real.input, real.context), before);
}

constexpr char kSmolLm[] = "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr char kMiniLm[] = "all-minilm-l6-v2";

TEST(RealModelEquivalenceTest, OsPlusShiftScaleAndUpDown) {
  for (const char* relative : {kSmolLm, kMiniLm}) {
    double error =
        ErrorAfter(relative, 2, [](RealBlock& real, BlockQuantState& state) {
          ContextCache contexts(*real.loaded.model, real.input.size(1));
          OsPlusTransform(*real.block, real, contexts, state);
          const model::InputSite& down = real.block->Sites().back();
          if (!down.producer.empty()) {
            at::Generator generator = at::detail::createCPUGenerator(2);
            const int64_t channels =
                real.block->linear(down.consumers[0]).in_features();
            ScaleThroughProducer(*real.block, down,
                                 at::rand({channels}, generator) * 4 + 0.25);
          }
        });
    EXPECT_LT(error, 1e-5) << relative;
  }
}

TEST(RealModelEquivalenceTest, SmoothQuantScale) {
  for (const char* relative : {kSmolLm, kMiniLm}) {
    double error =
        ErrorAfter(relative, 1, [](RealBlock& real, BlockQuantState& state) {
          SmoothQuantTransform(*real.block, real, state);
        });
    EXPECT_LT(error, 1e-5) << relative;
  }
}

TEST(RealModelEquivalenceTest, GammaMigrationOnMiniLm) {
  double error =
      ErrorAfter(kMiniLm, 3, [](RealBlock& real, BlockQuantState& state) {
        // The block input comes from block 2's last LayerNorm, mlp_in from this
        // block's attention output LayerNorm.
        auto previous = real.loaded.model->LoadBlock(2);
        const model::Norm input_norm =
            previous->norm(previous->NormNames().back());
        for (const model::InputSite& site : real.block->Sites()) {
          if (!CanScaleSite(site) ||
              site.point == model::HookPoint::kAttnOutIn) {
            continue;
          }
          const model::Norm& norm =
              site.norm.empty() ? input_norm : real.block->norm(site.norm);
          ASSERT_EQ(norm.kind, model::NormKind::kLayer);
          Apply(*real.block, site, at::Tensor(), norm.weight.clone(), state);
        }
      });
  EXPECT_LT(error, 1e-5);
}

}  // namespace
}  // namespace quantd::engine::methods
