// The Block interface as methods use it: sites, hooks, SiteForward and
// equivalent transformations through get/replace of weights.
#include "worker/engine/model/block.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "worker/engine/model/model_error.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"

namespace quantd::engine::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<Model> Tiny(const io::ModelConfig& config) {
  return MakeModel(config, testing::RandomWeights(config, 7), {});
}

struct Batch {
  at::Tensor ids;
  ForwardContext context;
  at::Tensor hidden;
};

Batch MakeBatch(const Model& model, int64_t batch = 2, int64_t seq = 6) {
  at::Generator generator = at::detail::createCPUGenerator(3);
  Batch b;
  b.ids = at::randint(model.config().vocab_size, {batch, seq}, generator);
  b.context = model.MakeContext(b.ids);
  b.hidden = model.Embed(b.ids, b.context);
  return b;
}

std::vector<io::ModelConfig> AllTinyConfigs() {
  return {testing::TinyLlamaConfig(), testing::TinyOptConfig(true),
          testing::TinyOptConfig(false), testing::TinyBertConfig()};
}

TEST(BlockTest, LlamaSitesNameConsumersNormsAndProducers) {
  auto model = Tiny(testing::TinyLlamaConfig());
  auto block = model->LoadBlock(1);
  EXPECT_EQ(block->prefix(), "model.layers.1.");
  const auto& sites = block->Sites();
  ASSERT_EQ(sites.size(), 4u);
  EXPECT_EQ(sites[0].name, "attn_in");
  EXPECT_THAT(
      sites[0].consumers,
      ElementsAre("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"));
  EXPECT_EQ(sites[0].norm, "input_layernorm");
  // GQA: v_proj's channels do not map 1:1 onto o_proj's inputs.
  EXPECT_EQ(sites[1].producer, "");
  EXPECT_THAT(sites[2].consumers, ElementsAre("mlp.gate_proj", "mlp.up_proj"));
  EXPECT_EQ(sites[2].norm, "post_attention_layernorm");
  EXPECT_EQ(sites[3].producer, "mlp.up_proj");
  EXPECT_FALSE(sites[0].feeds_residual);
}

TEST(BlockTest, PostNormSitesFeedTheResidual) {
  auto model = Tiny(testing::TinyBertConfig());
  auto block = model->LoadBlock(0);
  EXPECT_TRUE(block->Site("attn_in").feeds_residual);
  EXPECT_EQ(block->Site("attn_in").norm, "");
  EXPECT_EQ(block->Site("mlp_in").norm, "attention.output.LayerNorm");
  EXPECT_EQ(block->Site("attn_out_in").producer, "attention.self.value");
}

TEST(BlockTest, CaptureHooksSeeEveryPointWithoutChangingTheOutput) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    auto model = Tiny(config);
    Batch b = MakeBatch(*model);
    auto block = model->LoadBlock(0);
    at::Tensor plain = block->Forward(b.hidden, b.context);
    std::map<std::string, std::vector<int64_t>> shapes;
    for (int i = 0; i < kNumHookPoints; ++i) {
      auto point = static_cast<HookPoint>(i);
      block->SetHook(point, [&shapes, point](const at::Tensor& x) {
        shapes[std::string(HookPointName(point))] = x.sizes().vec();
        return x;
      });
    }
    at::Tensor hooked = block->Forward(b.hidden, b.context);
    EXPECT_TRUE(at::allclose(plain, hooked, 1e-5, 1e-6)) << config.model_type;
    int64_t kv = config.num_kv_heads;
    EXPECT_THAT(shapes["attn_in"], ElementsAre(2, 6, 32));
    EXPECT_THAT(shapes["query"], ElementsAre(2, 4, 6, 8));
    EXPECT_THAT(shapes["key"], ElementsAre(2, kv, 6, 8));
    EXPECT_THAT(shapes["value"], ElementsAre(2, kv, 6, 8));
    EXPECT_THAT(shapes["probs"], ElementsAre(2, 4, 6, 6));
    EXPECT_THAT(shapes["attn_out_in"], ElementsAre(2, 6, 32));
    EXPECT_THAT(shapes["mlp_out_in"], ElementsAre(2, 6, 48));
  }
}

TEST(BlockTest, SiteForwardReproducesTheNextSite) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    auto model = Tiny(config);
    Batch b = MakeBatch(*model);
    auto block = model->LoadBlock(1);
    std::map<std::string, at::Tensor> seen;
    for (const InputSite& site : block->Sites()) {
      block->SetHook(site.point,
                     [&seen, name = site.name](const at::Tensor& x) {
                       seen[name] = x;
                       return x;
                     });
    }
    block->Forward(b.hidden, b.context);
    auto f = [&](const char* site) {
      return block->SiteForward(site, seen[site], block->Consumers(site),
                                b.context);
    };
    EXPECT_TRUE(at::allclose(f("attn_in"), seen["attn_out_in"], 1e-5, 1e-6))
        << config.model_type;
    EXPECT_TRUE(at::allclose(f("mlp_in"), seen["mlp_out_in"], 1e-5, 1e-6))
        << config.model_type;
  }
}

TEST(BlockTest, StackedConsumersRunEachCandidateOnItsPart) {
  // Two candidates of every consumer stacked ([2, O, C] weights): the
  // first half of the sequences goes through candidate 0, the second half
  // through candidate 1, as two separate SiteForward calls would.
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    auto model = Tiny(config);
    Batch b = MakeBatch(*model);
    auto block = model->LoadBlock(0);
    for (const char* site : {"attn_in", "mlp_in"}) {
      const std::vector<Linear> original = block->Consumers(site);
      std::vector<Linear> doubled = original, stacked = original;
      for (size_t i = 0; i < original.size(); ++i) {
        doubled[i].weight = original[i].weight * 2.0;
        stacked[i].weight = at::stack({original[i].weight, doubled[i].weight});
      }
      at::Tensor x = b.hidden;
      ForwardContext pair = model->MakeContext(at::cat({b.ids, b.ids}));
      at::Tensor both =
          block->SiteForward(site, at::cat({x, x}), stacked, pair);
      at::Tensor first = block->SiteForward(site, x, original, b.context);
      at::Tensor second = block->SiteForward(site, x, doubled, b.context);
      EXPECT_TRUE(at::allclose(both, at::cat({first, second}), 1e-5, 1e-6))
          << config.model_type << " " << site;
    }
  }
  Linear stacked{at::ones({3, 4, 5}), at::Tensor()};
  EXPECT_THROW(stacked.Forward(at::ones({2, 5})), ModelError);
}

TEST(BlockTest, HookReplacesWhatTheLinearLayersRead) {
  auto model = Tiny(testing::TinyLlamaConfig());
  Batch b = MakeBatch(*model);
  auto block = model->LoadBlock(0);
  at::Tensor after_attention;
  block->SetHook(HookPoint::kMlpIn, [&](const at::Tensor& x) { return x; });
  block->SetHook(HookPoint::kAttnOutIn, [&](const at::Tensor& x) {
    after_attention = b.hidden + block->linear("self_attn.o_proj").Forward(x);
    return x;
  });
  block->SetHook(HookPoint::kMlpOutIn,
                 [](const at::Tensor& x) { return at::zeros_like(x); });
  at::Tensor out = block->Forward(b.hidden, b.context);
  // With the MLP's inner activation zeroed, only the residual remains.
  EXPECT_TRUE(at::allclose(out, after_attention, 1e-6, 1e-6));
  block->ClearHooks();
  EXPECT_FALSE(at::allclose(block->Forward(b.hidden, b.context), out));
}

TEST(BlockTest, ProbabilitiesAreCausalAndNormalised) {
  auto model = Tiny(testing::TinyLlamaConfig());
  Batch b = MakeBatch(*model);
  auto block = model->LoadBlock(0);
  at::Tensor probs;
  block->SetHook("probs", [&](const at::Tensor& p) {
    probs = p;
    return p;
  });
  block->Forward(b.hidden, b.context);
  ASSERT_TRUE(probs.defined());
  EXPECT_TRUE(at::allclose(probs.sum(-1), at::ones_like(probs.sum(-1))));
  EXPECT_EQ(probs.triu(1).abs().max().item<float>(), 0.0f);
}

// What SmoothQuant/OS+ do at LN1 -> q,k,v: γ ⊘ s, W[:, j] · s_j.
TEST(BlockTest, ScalingThroughTheNormKeepsTheOutput) {
  auto model = Tiny(testing::TinyLlamaConfig());
  Batch b = MakeBatch(*model);
  auto block = model->LoadBlock(0);
  at::Tensor before = block->Forward(b.hidden, b.context);
  at::Tensor s = at::rand({32}, at::detail::createCPUGenerator(5)) + 0.5;
  const InputSite& site = block->Site("attn_in");
  block->norm(site.norm).weight = block->norm(site.norm).weight / s;
  for (const std::string& name : site.consumers) {
    block->linear(name).weight = block->linear(name).weight * s;
  }
  EXPECT_TRUE(
      at::allclose(block->Forward(b.hidden, b.context), before, 1e-4, 1e-5));
}

// OS+ at an OPT LayerNorm: shift z and scale s, bias b + W z.
TEST(BlockTest, ShiftAndScaleThroughLayerNormKeepsTheOutput) {
  auto model = Tiny(testing::TinyOptConfig(true));
  Batch b = MakeBatch(*model);
  auto block = model->LoadBlock(1);
  at::Tensor before = block->Forward(b.hidden, b.context);
  at::Generator generator = at::detail::createCPUGenerator(9);
  at::Tensor s = at::rand({32}, generator) + 0.5;
  at::Tensor z = at::randn({32}, generator) * 0.3;
  const InputSite& site = block->Site("mlp_in");
  Norm& norm = block->norm(site.norm);
  norm.weight = norm.weight / s;
  norm.bias = (norm.bias - z) / s;
  for (const std::string& name : site.consumers) {
    Linear& linear = block->linear(name);
    linear.bias = linear.bias + at::matmul(linear.weight, z);
    linear.weight = linear.weight * s;
  }
  EXPECT_TRUE(
      at::allclose(block->Forward(b.hidden, b.context), before, 1e-4, 1e-5));
}

TEST(BlockTest, NamedTensorsUseFullHfNames) {
  auto model = Tiny(testing::TinyOptConfig(true));
  auto block = model->LoadBlock(1);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : block->NamedTensors()) {
    names.push_back(name);
    EXPECT_TRUE(model->source().Contains(name)) << name;
  }
  EXPECT_EQ(names.size(), 16u);
  EXPECT_THAT(names, ::testing::Contains("model.decoder.layers.1.fc2.bias"));
}

TEST(BlockTest, UnknownNamesAndWrongArityThrow) {
  auto model = Tiny(testing::TinyLlamaConfig());
  Batch b = MakeBatch(*model);
  auto block = model->LoadBlock(0);
  EXPECT_THROW(block->linear("self_attn.nope"), ModelError);
  EXPECT_THROW(block->norm("ln_f"), ModelError);
  EXPECT_THROW(block->SetHook("q_proj", nullptr), ModelError);
  EXPECT_THROW(block->Site("mlp"), ModelError);
  std::vector<Linear> two = {block->linear("mlp.gate_proj")};
  try {
    block->SiteForward("mlp_in", b.hidden, two, b.context);
    FAIL() << "expected ModelError";
  } catch (const ModelError& error) {
    EXPECT_THAT(error.what(), HasSubstr("takes 2 linear layers, got 1"));
  }
}

}  // namespace
}  // namespace quantd::engine::model
