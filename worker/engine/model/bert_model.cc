#include "worker/engine/model/bert_model.h"

#include <cmath>
#include <string>

#include "worker/engine/model/attention.h"
#include "worker/engine/model/model_error.h"
#include "worker/engine/model/weight_loader.h"

namespace quantd::engine::model {
namespace {

constexpr char kQ[] = "attention.self.query";
constexpr char kK[] = "attention.self.key";
constexpr char kV[] = "attention.self.value";
constexpr char kAttentionOut[] = "attention.output.dense";
constexpr char kIntermediate[] = "intermediate.dense";
constexpr char kOutput[] = "output.dense";
constexpr char kNorm1[] = "attention.output.LayerNorm";
constexpr char kNorm2[] = "output.LayerNorm";

class BertBlock : public Block {
 public:
  BertBlock(int64_t index, const std::string& model_prefix,
            const io::ModelConfig& config, const WeightLoader& loader)
      : Block(index,
              model_prefix + "encoder.layer." + std::to_string(index) + "."),
        num_heads_(config.num_heads),
        head_dim_(config.head_dim),
        activation_(ParseActivation(config.hidden_act, "config hidden_act")) {
    int64_t c = config.hidden_size, f = config.intermediate_size;
    auto load = [&](const char* name, int64_t out, int64_t in) {
      AddLinear(name, loader.LoadLinear(prefix() + name, out, in,
                                        BiasPolicy::kRequired));
    };
    auto load_norm = [&](const char* name) {
      AddNorm(name, loader.LoadNorm(prefix() + name, NormKind::kLayer, c,
                                    config.norm_eps));
    };
    load(kQ, c, c);
    load(kK, c, c);
    load(kV, c, c);
    load(kAttentionOut, c, c);
    load_norm(kNorm1);
    load(kIntermediate, f, c);
    load(kOutput, c, f);
    load_norm(kNorm2);
    // Post-LN: the block input (the previous block's, or the embedding's,
    // LayerNorm output) and the mid-block LN output also feed the residual.
    AddSite({HookPoint::kAttnIn, "", {kQ, kK, kV}, "", "", true});
    AddSite({HookPoint::kAttnOutIn, "", {kAttentionOut}, "", kV, false});
    AddSite({HookPoint::kMlpIn, "", {kIntermediate}, kNorm1, "", true});
    AddSite({HookPoint::kMlpOutIn, "", {kOutput}, "", "", false});
  }

  // Hooks change what the Linear layers read; the residual path reads the
  // unhooked stream.
  at::Tensor Forward(const at::Tensor& hidden,
                     const ForwardContext& context) const override {
    at::Tensor h = Hooked(HookPoint::kAttnIn, hidden);
    at::Tensor attention = Hooked(
        HookPoint::kAttnOutIn,
        SiteFunction(Sites()[0], h, Consumers("attn_in"), context, true));
    at::Tensor x = norm(kNorm1).Forward(
        linear(kAttentionOut).Forward(attention, context.matmul_dtype) +
        hidden);
    at::Tensor m = Hooked(HookPoint::kMlpIn, x);
    at::Tensor activated =
        Hooked(HookPoint::kMlpOutIn,
               SiteFunction(Sites()[2], m, Consumers("mlp_in"), context, true));
    return norm(kNorm2).Forward(
        linear(kOutput).Forward(activated, context.matmul_dtype) + x);
  }

 protected:
  at::Tensor SiteFunction(const InputSite& site, const at::Tensor& x,
                          std::span<const Linear> consumers,
                          const ForwardContext& context,
                          bool hooked) const override {
    switch (site.point) {
      case HookPoint::kAttnIn:
        return Attention(x, consumers, context, hooked);
      case HookPoint::kMlpIn:
        return Activate(activation_,
                        consumers[0].Forward(x, context.matmul_dtype));
      default:
        return consumers[0].Forward(x, context.matmul_dtype);
    }
  }

 private:
  at::Tensor Attention(const at::Tensor& x, std::span<const Linear> qkv,
                       const ForwardContext& context, bool hooked) const {
    at::Tensor q = ProjectHeads(qkv[0], x, num_heads_, context);
    at::Tensor k = ProjectHeads(qkv[1], x, num_heads_, context);
    at::Tensor v = ProjectHeads(qkv[2], x, num_heads_, context);
    if (hooked) {
      q = Hooked(HookPoint::kQuery, q);
      k = Hooked(HookPoint::kKey, k);
      v = Hooked(HookPoint::kValue, v);
    }
    double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
    return AttentionContext(q, k, v, context, scale,
                            hooked ? HookAt(HookPoint::kProbs) : nullptr);
  }

  int64_t num_heads_;
  int64_t head_dim_;
  Activation activation_;
};

class BertModel : public Model {
 public:
  BertModel(const io::ModelConfig& config,
            std::shared_ptr<const io::TensorSource> source,
            const ModelOptions& options)
      : Model(config, std::move(source), options),
        loader_(this->source(), options.device) {
    prefix_ = loader_.Contains("bert.embeddings.word_embeddings.weight")
                  ? "bert."
                  : "";
    int64_t c = config.hidden_size;
    auto load = [&](const std::string& name, std::vector<int64_t> shape) {
      AddResident(prefix_ + name, loader_.Load(prefix_ + name, shape));
    };
    load("embeddings.word_embeddings.weight", {config.vocab_size, c});
    load("embeddings.position_embeddings.weight",
         {config.max_position_embeddings, c});
    load("embeddings.token_type_embeddings.weight",
         {std::max<int64_t>(config.type_vocab_size, 1), c});
    load("embeddings.LayerNorm.weight", {c});
    load("embeddings.LayerNorm.bias", {c});
    embedding_norm_.kind = NormKind::kLayer;
    embedding_norm_.eps = config.norm_eps;
  }

  OutputKind output_kind() const override { return OutputKind::kEmbedding; }

  ForwardContext MakeContext(const at::Tensor& ids,
                             const at::Tensor& token_mask) const override {
    at::Tensor device_ids = ids.to(options().device);
    ForwardContext context =
        MakeMaskContext(device_ids, token_mask, /*causal=*/false);
    context.fused_attention = options().fused_attention;
    context.matmul_dtype = options().matmul_dtype;
    if (context.seq_len > config().max_position_embeddings) {
      throw ModelError("BERT: " + std::to_string(context.seq_len) +
                       " tokens exceed config max_position_embeddings " +
                       std::to_string(config().max_position_embeddings));
    }
    context.positions = at::arange(context.seq_len, device_ids.options())
                            .unsqueeze(0)
                            .expand({context.batch_size, context.seq_len});
    return context;
  }

  at::Tensor Embed(const at::Tensor& ids,
                   const ForwardContext& context) const override {
    CheckIds(ids, config().vocab_size);
    at::Tensor words =
        at::embedding(Resident(prefix_ + "embeddings.word_embeddings.weight"),
                      ids.to(options().device));
    // Token type 0 everywhere; HF adds word + type first, then position.
    at::Tensor type =
        Resident(prefix_ + "embeddings.token_type_embeddings.weight")[0];
    at::Tensor positions = at::embedding(
        Resident(prefix_ + "embeddings.position_embeddings.weight"),
        context.positions);
    Norm norm = embedding_norm_;
    norm.weight = Resident(prefix_ + "embeddings.LayerNorm.weight");
    norm.bias = Resident(prefix_ + "embeddings.LayerNorm.bias");
    return norm.Forward(words + type + positions);
  }

  std::unique_ptr<Block> LoadBlock(int64_t index) const override {
    return std::make_unique<BertBlock>(index, prefix_, config(), loader_);
  }

  // Mean over real tokens (sentence-transformers' Pooling, mean mode).
  at::Tensor Head(const at::Tensor& hidden,
                  const ForwardContext& context) const override {
    at::Tensor mask =
        context.token_mask.defined()
            ? context.token_mask.to(hidden.scalar_type()).unsqueeze(-1)
            : at::ones({hidden.size(0), hidden.size(1), 1}, hidden.options());
    at::Tensor pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9);
    if (!options().normalize_embeddings) return pooled;
    return pooled / pooled.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
  }

 private:
  WeightLoader loader_;
  std::string prefix_;
  Norm embedding_norm_;
};

}  // namespace

std::unique_ptr<Model> MakeBertModel(
    const io::ModelConfig& config,
    std::shared_ptr<const io::TensorSource> source,
    const ModelOptions& options) {
  return std::make_unique<BertModel>(config, std::move(source), options);
}

}  // namespace quantd::engine::model
