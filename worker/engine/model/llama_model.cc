#include "worker/engine/model/llama_model.h"

#include <cmath>
#include <string>

#include "worker/engine/model/attention.h"
#include "worker/engine/model/model_error.h"
#include "worker/engine/model/rope.h"
#include "worker/engine/model/weight_loader.h"

namespace quantd::engine::model {
namespace {

constexpr char kQ[] = "self_attn.q_proj";
constexpr char kK[] = "self_attn.k_proj";
constexpr char kV[] = "self_attn.v_proj";
constexpr char kO[] = "self_attn.o_proj";
constexpr char kGate[] = "mlp.gate_proj";
constexpr char kUp[] = "mlp.up_proj";
constexpr char kDown[] = "mlp.down_proj";
constexpr char kNorm1[] = "input_layernorm";
constexpr char kNorm2[] = "post_attention_layernorm";

class LlamaBlock : public Block {
 public:
  LlamaBlock(int64_t index, const io::ModelConfig& config,
             const WeightLoader& loader)
      : Block(index, "model.layers." + std::to_string(index) + "."),
        num_heads_(config.num_heads),
        num_kv_heads_(config.num_kv_heads),
        head_dim_(config.head_dim),
        activation_(ParseActivation(config.hidden_act, "config hidden_act")) {
    int64_t c = config.hidden_size, f = config.intermediate_size;
    int64_t q_out = num_heads_ * head_dim_, kv_out = num_kv_heads_ * head_dim_;
    auto load = [&](const char* name, int64_t out, int64_t in) {
      AddLinear(name, loader.LoadLinear(prefix() + name, out, in,
                                        BiasPolicy::kOptional));
    };
    AddNorm(kNorm1, loader.LoadNorm(prefix() + kNorm1, NormKind::kRms, c,
                                    config.norm_eps));
    load(kQ, q_out, c);
    load(kK, kv_out, c);
    load(kV, kv_out, c);
    load(kO, c, q_out);
    AddNorm(kNorm2, loader.LoadNorm(prefix() + kNorm2, NormKind::kRms, c,
                                    config.norm_eps));
    load(kGate, f, c);
    load(kUp, f, c);
    load(kDown, c, f);
    bool one_to_one = num_heads_ == num_kv_heads_;
    AddSite({HookPoint::kAttnIn, "", {kQ, kK, kV}, kNorm1, "", false});
    AddSite({HookPoint::kAttnOutIn, "", {kO}, "", one_to_one ? kV : "", false});
    AddSite({HookPoint::kMlpIn, "", {kGate, kUp}, kNorm2, "", false});
    AddSite({HookPoint::kMlpOutIn, "", {kDown}, "", kUp, false});
  }

  at::Tensor Forward(const at::Tensor& hidden,
                     const ForwardContext& context) const override {
    at::Tensor h = Hooked(HookPoint::kAttnIn, norm(kNorm1).Forward(hidden));
    at::Tensor attention = Hooked(
        HookPoint::kAttnOutIn,
        SiteFunction(Sites()[0], h, Consumers("attn_in"), context, true));
    at::Tensor x = hidden + linear(kO).Forward(attention, context.matmul_dtype);
    at::Tensor m = Hooked(HookPoint::kMlpIn, norm(kNorm2).Forward(x));
    at::Tensor gated =
        Hooked(HookPoint::kMlpOutIn,
               SiteFunction(Sites()[2], m, Consumers("mlp_in"), context, true));
    return x + linear(kDown).Forward(gated, context.matmul_dtype);
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
                        consumers[0].Forward(x, context.matmul_dtype)) *
               consumers[1].Forward(x, context.matmul_dtype);
      default:
        return consumers[0].Forward(x, context.matmul_dtype);
    }
  }

 private:
  at::Tensor Attention(const at::Tensor& x, std::span<const Linear> qkv,
                       const ForwardContext& context, bool hooked) const {
    at::Tensor q = ProjectHeads(qkv[0], x, num_heads_, context);
    at::Tensor k = ProjectHeads(qkv[1], x, num_kv_heads_, context);
    at::Tensor v = ProjectHeads(qkv[2], x, num_kv_heads_, context);
    q = ApplyRotary(q, context.rope_cos, context.rope_sin);
    k = ApplyRotary(k, context.rope_cos, context.rope_sin);
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
  int64_t num_kv_heads_;
  int64_t head_dim_;
  Activation activation_;
};

constexpr char kEmbedding[] = "model.embed_tokens.weight";
constexpr char kFinalNorm[] = "model.norm.weight";
constexpr char kLmHead[] = "lm_head.weight";

class LlamaModel : public Model {
 public:
  LlamaModel(const io::ModelConfig& config,
             std::shared_ptr<const io::TensorSource> source,
             const ModelOptions& options)
      : Model(config, std::move(source), options),
        loader_(this->source(), options.device) {
    int64_t v = config.vocab_size, c = config.hidden_size;
    AddResident(kEmbedding, loader_.Load(kEmbedding, {v, c}));
    AddResident(kFinalNorm, loader_.Load(kFinalNorm, {c}));
    if (!config.tie_word_embeddings || loader_.Contains(kLmHead)) {
      AddResident(kLmHead, loader_.Load(kLmHead, {v, c}));
    }
    final_norm_.kind = NormKind::kRms;
    final_norm_.eps = config.norm_eps;
  }

  OutputKind output_kind() const override { return OutputKind::kLogits; }

  ForwardContext MakeContext(const at::Tensor& ids,
                             const at::Tensor& token_mask) const override {
    at::Tensor device_ids = ids.to(options().device);
    ForwardContext context = MakeMaskContext(
        device_ids, token_mask, /*causal=*/true, config().sliding_window);
    context.fused_attention = options().fused_attention;
    context.matmul_dtype = options().matmul_dtype;
    context.positions = at::arange(context.seq_len, device_ids.options())
                            .unsqueeze(0)
                            .expand({context.batch_size, context.seq_len});
    std::tie(context.rope_cos, context.rope_sin) =
        RotaryTables(context.positions, config().head_dim, config().rope_theta);
    return context;
  }

  at::Tensor Embed(const at::Tensor& ids,
                   const ForwardContext& context) const override {
    CheckIds(ids, config().vocab_size);
    return at::embedding(Resident(kEmbedding), ids.to(options().device));
  }

  std::unique_ptr<Block> LoadBlock(int64_t index) const override {
    return std::make_unique<LlamaBlock>(index, config(), loader_);
  }

  at::Tensor Head(const at::Tensor& hidden,
                  const ForwardContext& context) const override {
    Norm norm = final_norm_;
    norm.weight = Resident(kFinalNorm);
    const at::Tensor& head =
        HasResident(kLmHead) ? Resident(kLmHead) : Resident(kEmbedding);
    return at::linear(norm.Forward(hidden), head);
  }

 private:
  WeightLoader loader_;
  Norm final_norm_;
};

}  // namespace

std::unique_ptr<Model> MakeLlamaModel(
    const io::ModelConfig& config,
    std::shared_ptr<const io::TensorSource> source,
    const ModelOptions& options) {
  return std::make_unique<LlamaModel>(config, std::move(source), options);
}

}  // namespace quantd::engine::model
