// Equivalent transformations leave the FP block output unchanged on every
// tiny architecture: norm folding (Pre-LN), the hook transform with
// residual compensation (Post-LN), the producer-row variant, shifts where a
// bias absorbs them; and requests a site cannot absorb fail by name.
#include "worker/engine/methods/equivalent_transform.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "worker/engine/methods/method_error.h"
#include "worker/engine/methods/methods_test_util.h"
#include "worker/engine/methods/weight_quant.h"
#include "worker/engine/quant/integer_codes.h"

namespace quantd::engine::methods {
namespace {

using testing::AllTinyConfigs;
using testing::EmbeddedInputs;
using ::testing::HasSubstr;
using testing::RelativeError;
using testing::TinyModel;

// Random positive scales in [0.2, 5] and shifts in [-1, 1].
at::Tensor RandomScale(int64_t channels, at::Generator& generator) {
  return at::exp(at::rand({channels}, generator) * 3.2 - 1.6);
}

// Transforms every site the architecture allows and installs the hook
// transforms (FP: quantizers disabled).
void TransformAllSites(model::Block& block, at::Generator& generator) {
  BlockQuantState state;
  for (const model::InputSite& site : block.Sites()) {
    const int64_t channels = block.linear(site.consumers.front()).in_features();
    at::Tensor scale = RandomScale(channels, generator);
    if (CanScaleSite(site)) {
      at::Tensor shift;
      if (CanShiftSite(block, site)) {
        shift = at::rand({channels}, generator) * 2 - 1;
      }
      InputTransform transform = TransformSite(block, site, shift, scale);
      if (!transform.empty()) {
        ActivationState activation;
        activation.point = site.point;
        activation.config.enabled = false;
        activation.transform = transform;
        state.activations.push_back(activation);
      }
    } else if (!site.producer.empty()) {
      ScaleThroughProducer(block, site, scale);
    }
  }
  InstallActivationQuantizers(block, state);
}

TEST(EquivalentTransformTest, EveryArchitectureKeepsTheBlockOutput) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    auto model = TinyModel(config);
    BlockInputs inputs = EmbeddedInputs(*model, 1, 2, 6);
    const at::Tensor& x = inputs.quantized[0];
    model::ForwardContext context =
        model->MakeContext(at::zeros({x.size(0), x.size(1)}, at::kLong));
    for (int64_t index = 0; index < model->NumBlocks(); ++index) {
      auto block = model->LoadBlock(index);
      const at::Tensor before = block->Forward(x, context);
      at::Generator generator = at::detail::createCPUGenerator(index + 5);
      TransformAllSites(*block, generator);
      EXPECT_LT(RelativeError(block->Forward(x, context), before), 1e-5)
          << io::ArchitectureName(config.architecture) << " block " << index;
    }
  }
}

TEST(EquivalentTransformTest, ShiftNeedsABiasToAbsorbIt) {
  auto model = TinyModel(model::testing::TinyLlamaConfig());
  auto block = model->LoadBlock(0);
  const model::InputSite& site = block->Site("attn_in");
  EXPECT_TRUE(CanScaleSite(site));
  EXPECT_FALSE(CanShiftSite(*block, site));  // RMSNorm: no bias.
  at::Tensor ones = at::ones({32});
  try {
    TransformSite(*block, site, ones, ones);
    ADD_FAILURE() << "shift on an RMSNorm site was accepted";
  } catch (const MethodError& error) {
    EXPECT_THAT(error.what(), HasSubstr("cannot shift"));
    EXPECT_THAT(error.what(), HasSubstr("attn_in"));
  }
}

TEST(EquivalentTransformTest, PreLnFoldsIntoTheNormAndPostLnIntoTheHook) {
  auto opt = TinyModel(model::testing::TinyOptConfig(true));
  auto pre = opt->LoadBlock(0);
  at::Tensor scale = at::full({32}, 2.0);
  EXPECT_TRUE(
      TransformSite(*pre, pre->Site("mlp_in"), at::Tensor(), scale).empty());
  auto bert = TinyModel(model::testing::TinyBertConfig());
  auto post = bert->LoadBlock(0);
  InputTransform hooked =
      TransformSite(*post, post->Site("attn_in"), at::Tensor(), scale);
  ASSERT_FALSE(hooked.empty());
  EXPECT_TRUE(at::equal(hooked.scale, scale));
}

TEST(EquivalentTransformTest, RejectsBadScalesAndMissingProducers) {
  auto model = TinyModel(model::testing::TinyLlamaConfig());
  auto block = model->LoadBlock(0);
  at::Tensor zeros = at::zeros({32});
  EXPECT_THROW(
      TransformSite(*block, block->Site("attn_in"), at::Tensor(), zeros),
      MethodError);
  EXPECT_THROW(TransformSite(*block, block->Site("attn_in"), at::Tensor(),
                             at::ones({7})),
               MethodError);
  // GQA: v_proj does not map 1:1 onto o_proj's inputs.
  EXPECT_THROW(
      ScaleThroughProducer(*block, block->Site("attn_out_in"), at::ones({32})),
      MethodError);
  EXPECT_THROW(
      ScaleThroughProducer(*block, block->Site("mlp_out_in"), -at::ones({48})),
      MethodError);
}

TEST(WeightQuantTest, DividingQuantizedRowsStaysOnTheGrid) {
  at::Generator generator = at::detail::createCPUGenerator(1);
  at::Tensor weight = at::randn({6, 16}, generator);
  quant::QuantConfig config;
  config.bits = 4;
  config.granularity = quant::Granularity::kPerChannel;
  QuantizedWeight quantized = QuantizeWeight(weight, config);
  at::Tensor scale = at::rand({6}, generator) + 0.5;
  QuantizedWeight folded =
      DivideQuantizedRows(quantized.weight, quantized.qparams, config, scale);
  EXPECT_LT(RelativeError(folded.weight, quantized.weight / scale.unsqueeze(1)),
            1e-6);
  // Same integer codes, scaled steps.
  quant::IntegerCodes before = quant::QuantizeToInt(
      quantized.weight, quantized.qparams, config.granularity, 0);
  quant::IntegerCodes after = quant::QuantizeToInt(
      folded.weight, folded.qparams, config.granularity, 0);
  EXPECT_TRUE(at::equal(before.codes, after.codes));
  config.granularity = quant::Granularity::kPerTensor;
  QuantizedWeight per_tensor = QuantizeWeight(weight, config);
  EXPECT_THROW(
      DivideQuantizedRows(per_tensor.weight, per_tensor.qparams, config, scale),
      MethodError);
}

}  // namespace
}  // namespace quantd::engine::methods
