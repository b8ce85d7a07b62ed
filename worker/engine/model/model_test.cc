// Model-level behaviour on tiny random models: attention paths agree,
// padding leaves real tokens alone, bad checkpoints and inputs fail with
// messages that name what is wrong, gradients reach replaced weights.
#include "worker/engine/model/model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/engine/model/memory_tensor_source.h"
#include "worker/engine/model/model_error.h"
#include "worker/engine/model/model_factory.h"
#include "worker/engine/model/test_models.h"

namespace quantd::engine::model {
namespace {

using ::testing::HasSubstr;

at::Tensor RandomIds(int64_t batch, int64_t seq, int64_t vocab) {
  return at::randint(vocab, {batch, seq}, at::detail::createCPUGenerator(11));
}

std::vector<io::ModelConfig> AllTinyConfigs() {
  return {testing::TinyLlamaConfig(), testing::TinyOptConfig(true),
          testing::TinyOptConfig(false), testing::TinyBertConfig()};
}

template <typename Fn>
std::string ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const ModelError& error) {
    return error.what();
  }
  return "no error";
}

TEST(ModelTest, FusedAndExplicitAttentionAgree) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    auto source = testing::RandomWeights(config, 1);
    ModelOptions fused, explicit_path;
    explicit_path.fused_attention = false;
    at::Tensor ids = RandomIds(3, 9, config.vocab_size);
    at::Tensor a = MakeModel(config, source, fused)->Forward(ids);
    at::Tensor b = MakeModel(config, source, explicit_path)->Forward(ids);
    EXPECT_TRUE(at::allclose(a, b, 1e-4, 1e-5)) << config.model_type;
  }
}

TEST(ModelTest, OutputShapesFollowTheOutputKind) {
  auto llama =
      MakeModel(testing::TinyLlamaConfig(),
                testing::RandomWeights(testing::TinyLlamaConfig()), {});
  EXPECT_EQ(llama->output_kind(), OutputKind::kLogits);
  EXPECT_EQ(llama->Forward(RandomIds(2, 5, 64)).sizes(),
            at::IntArrayRef({2, 5, 64}));
  auto bert = MakeModel(testing::TinyBertConfig(),
                        testing::RandomWeights(testing::TinyBertConfig()), {});
  EXPECT_EQ(bert->output_kind(), OutputKind::kEmbedding);
  EXPECT_EQ(bert->Forward(RandomIds(2, 5, 64)).sizes(),
            at::IntArrayRef({2, 32}));
}

// Row 0 is the full sequence; row 1 holds its first 5 tokens padded on the
// right (left for OPT, whose positions count real tokens only).
void ExpectPaddingIsInvisible(const io::ModelConfig& config, bool left_pad) {
  auto model = MakeModel(config, testing::RandomWeights(config, 2), {});
  at::Tensor full = RandomIds(1, 8, config.vocab_size);
  at::Tensor prefix = full.narrow(1, 0, 5);
  at::Tensor padded = at::zeros({1, 8}, at::kLong);
  at::Tensor mask = at::zeros({1, 8}, at::kLong);
  int64_t start = left_pad ? 3 : 0;
  padded.narrow(1, start, 5).copy_(prefix);
  mask.narrow(1, start, 5).fill_(1);
  at::Tensor ids = at::cat({full, padded});
  at::Tensor masks = at::cat({at::ones({1, 8}, at::kLong), mask});
  at::Tensor out = model->Forward(ids, masks);
  at::Tensor alone = model->Forward(prefix);
  if (model->output_kind() == OutputKind::kEmbedding) {
    EXPECT_TRUE(at::allclose(out[1], alone[0], 1e-4, 1e-5));
  } else {
    EXPECT_TRUE(at::allclose(out[1].narrow(0, start, 5), alone[0], 1e-4, 1e-5))
        << config.model_type;
    EXPECT_TRUE(at::allclose(out[0], model->Forward(full)[0], 1e-4, 1e-5));
  }
}

TEST(ModelTest, PaddingLeavesRealTokensUnchanged) {
  ExpectPaddingIsInvisible(testing::TinyLlamaConfig(), /*left_pad=*/false);
  ExpectPaddingIsInvisible(testing::TinyOptConfig(true), /*left_pad=*/true);
  ExpectPaddingIsInvisible(testing::TinyOptConfig(false), /*left_pad=*/true);
  ExpectPaddingIsInvisible(testing::TinyBertConfig(), /*left_pad=*/false);
}

TEST(ModelTest, MissingOrMisshapenTensorsAreNamed) {
  io::ModelConfig config = testing::TinyLlamaConfig();
  auto source = testing::RandomWeights(config);
  source->Remove("model.layers.1.mlp.up_proj.weight");
  auto model = MakeModel(config, source, {});
  EXPECT_NO_THROW(model->LoadBlock(0));
  EXPECT_THAT(ErrorOf([&] { model->LoadBlock(1); }),
              HasSubstr("'model.layers.1.mlp.up_proj.weight': missing"));
  source->Add("model.layers.1.mlp.up_proj.weight", at::zeros({48, 31}));
  EXPECT_THAT(ErrorOf([&] { model->LoadBlock(1); }),
              HasSubstr("expected shape [48, 32] from the config, found "
                        "[48, 31]"));
  source->Remove("model.norm.weight");
  EXPECT_THAT(ErrorOf([&] { MakeModel(config, source, {}); }),
              HasSubstr("'model.norm.weight': missing"));
}

TEST(ModelTest, UnexpectedBiasIsRejected) {
  io::ModelConfig config = testing::TinyOptConfig(true);
  config.enable_bias = false;
  auto model = MakeModel(config, testing::RandomWeights(config), {});
  EXPECT_THAT(ErrorOf([&] { model->LoadBlock(0); }),
              HasSubstr("unexpected bias"));
}

TEST(ModelTest, BadConfigNamesTheField) {
  io::ModelConfig config = testing::TinyLlamaConfig();
  config.num_kv_heads = 3;
  EXPECT_THAT(
      ErrorOf([&] { MakeModel(config, testing::RandomWeights(config), {}); }),
      HasSubstr("'num_key_value_heads' = 3"));
  config = testing::TinyOptConfig(true);
  config.hidden_act = "swiglu_plus";
  auto model = MakeModel(config, testing::RandomWeights(config), {});
  EXPECT_THAT(ErrorOf([&] { model->LoadBlock(0); }),
              HasSubstr("unsupported activation 'swiglu_plus'"));
}

TEST(ModelTest, BadInputsThrow) {
  for (const io::ModelConfig& config : AllTinyConfigs()) {
    auto model = MakeModel(config, testing::RandomWeights(config), {});
    at::Tensor ids = RandomIds(1, 4, 64);
    ids[0][2] = 64;
    EXPECT_THAT(ErrorOf([&] { model->Forward(ids); }),
                HasSubstr("token id 64 outside the vocabulary [0, 64)"));
    if (config.architecture != io::Architecture::kLlama) {
      EXPECT_THAT(ErrorOf([&] { model->Forward(RandomIds(1, 41, 64)); }),
                  HasSubstr("exceed config max_position_embeddings 40"));
    }
  }
}

TEST(ModelTest, SlidingWindowHidesDistantKeys) {
  io::ModelConfig config = testing::TinyLlamaConfig();
  auto source = testing::RandomWeights(config);
  at::Tensor ids = RandomIds(2, 6, 64);
  at::Tensor full = MakeModel(config, source, {})->Forward(ids);
  config.sliding_window = 6;  // Covers the sequence: no effect.
  EXPECT_TRUE(at::allclose(MakeModel(config, source, {})->Forward(ids), full));
  config.sliding_window = 3;
  auto model = MakeModel(config, source, {});
  at::Tensor probs;
  at::Tensor windowed = model->Forward(ids, {}, [&](Block& block) {
    block.SetHook(HookPoint::kProbs, [&](const at::Tensor& p) {
      probs = p;
      return p;
    });
  });
  EXPECT_FALSE(at::allclose(windowed, full));
  // Query q sees keys q-2..q only.
  EXPECT_EQ(probs.tril(-3).abs().max().item<float>(), 0.0f);
  EXPECT_GT(probs.tril(-2).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(probs.triu(1).abs().max().item<float>(), 0.0f);
}

TEST(ModelTest, RunBlocksPreparesEachBlockOnceInOrder) {
  io::ModelConfig config = testing::TinyOptConfig(true);
  auto model = MakeModel(config, testing::RandomWeights(config), {});
  std::vector<int64_t> order;
  at::Tensor ids = RandomIds(1, 4, 64);
  at::Tensor plain = model->Forward(ids);
  at::Tensor prepared = model->Forward(ids, {}, [&](Block& block) {
    order.push_back(block.index());
    block.SetHook(HookPoint::kMlpOutIn,
                  [](const at::Tensor& x) { return x * 0.0; });
  });
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1}));
  EXPECT_FALSE(at::allclose(plain, prepared));
}

// OmniQuant trains transformed weights through the block's forward.
TEST(ModelTest, GradientsReachAReplacedWeight) {
  io::ModelConfig config = testing::TinyLlamaConfig();
  auto model = MakeModel(config, testing::RandomWeights(config), {});
  at::Tensor ids = RandomIds(1, 4, 64);
  ForwardContext context = model->MakeContext(ids);
  at::Tensor hidden = model->Embed(ids, context);
  auto block = model->LoadBlock(0);
  at::Tensor scale = at::ones({32}).requires_grad_(true);
  Linear& q = block->linear("self_attn.q_proj");
  q.weight = q.weight * scale;
  block->Forward(hidden, context).pow(2).sum().backward();
  ASSERT_TRUE(scale.grad().defined());
  EXPECT_GT(scale.grad().abs().sum().item<float>(), 0.0f);
}

TEST(ModelTest, ResidentTensorsAreNamedAndReplaceable) {
  io::ModelConfig config = testing::TinyLlamaConfig();
  auto model = MakeModel(config, testing::RandomWeights(config), {});
  std::vector<std::string> names;
  for (const auto& [name, tensor] : model->NamedTensors()) {
    names.push_back(name);
  }
  // Tied: no lm_head of its own.
  EXPECT_EQ(names, (std::vector<std::string>{"model.embed_tokens.weight",
                                             "model.norm.weight"}));
  at::Tensor ids = RandomIds(1, 3, 64);
  at::Tensor before = model->Forward(ids);
  model->Resident("model.norm.weight") =
      model->Resident("model.norm.weight") * 2;
  EXPECT_FALSE(at::allclose(before, model->Forward(ids)));
  EXPECT_THROW(model->Resident("lm_head.weight"), ModelError);
}

TEST(MemoryTensorSourceTest, LoadsCopiesAndNamesMissingTensors) {
  MemoryTensorSource source("unit");
  source.Add("a", at::arange(6, at::kInt).view({2, 3}));
  ASSERT_EQ(source.Tensors().size(), 1u);
  EXPECT_EQ(source.Tensors()[0].shape, (std::vector<int64_t>{2, 3}));
  at::Tensor a = source.LoadFloat("a");
  EXPECT_EQ(a.scalar_type(), at::kFloat);
  a.fill_(9);
  EXPECT_EQ(source.LoadFloat("a")[1][2].item<float>(), 5.0f);
  EXPECT_THAT(ErrorOf([&] { source.LoadFloat("b"); }),
              HasSubstr("unit: tensor 'b': missing"));
}

}  // namespace
}  // namespace quantd::engine::model
