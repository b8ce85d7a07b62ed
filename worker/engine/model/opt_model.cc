#include "worker/engine/model/opt_model.h"

#include <cmath>
#include <string>

#include "worker/engine/model/attention.h"
#include "worker/engine/model/model_error.h"
#include "worker/engine/model/weight_loader.h"

namespace quantd::engine::model {
namespace {

constexpr char kQ[] = "self_attn.q_proj";
constexpr char kK[] = "self_attn.k_proj";
constexpr char kV[] = "self_attn.v_proj";
constexpr char kOut[] = "self_attn.out_proj";
constexpr char kFc1[] = "fc1";
constexpr char kFc2[] = "fc2";
constexpr char kNorm1[] = "self_attn_layer_norm";
constexpr char kNorm2[] = "final_layer_norm";
// HF's OPTLearnedPositionalEmbedding: rows 0 and 1 are never used for real
// tokens.
constexpr int64_t kPositionOffset = 2;

class OptBlock : public Block {
 public:
  OptBlock(int64_t index, const std::string& decoder_prefix,
           const io::ModelConfig& config, const WeightLoader& loader)
      : Block(index, decoder_prefix + "layers." + std::to_string(index) + "."),
        num_heads_(config.num_heads),
        head_dim_(config.head_dim),
        pre_norm_(config.do_layer_norm_before),
        activation_(ParseActivation(config.hidden_act, "config hidden_act")) {
    int64_t c = config.hidden_size, f = config.intermediate_size;
    BiasPolicy bias =
        config.enable_bias ? BiasPolicy::kRequired : BiasPolicy::kNone;
    auto load = [&](const char* name, int64_t out, int64_t in) {
      AddLinear(name, loader.LoadLinear(prefix() + name, out, in, bias));
    };
    auto load_norm = [&](const char* name) {
      AddNorm(name, loader.LoadNorm(prefix() + name, NormKind::kLayer, c,
                                    config.norm_eps));
    };
    load_norm(kNorm1);
    load(kQ, c, c);
    load(kK, c, c);
    load(kV, c, c);
    load(kOut, c, c);
    load_norm(kNorm2);
    load(kFc1, f, c);
    load(kFc2, c, f);
    // Pre-LN: each LN feeds its branch. Post-LN: a branch reads the stream
    // the previous LN produced, which the residual reads too.
    bool relu = activation_ == Activation::kRelu;
    AddSite({HookPoint::kAttnIn,
             "",
             {kQ, kK, kV},
             pre_norm_ ? kNorm1 : "",
             "",
             !pre_norm_});
    AddSite({HookPoint::kAttnOutIn, "", {kOut}, "", kV, false});
    AddSite({HookPoint::kMlpIn,
             "",
             {kFc1},
             pre_norm_ ? kNorm2 : kNorm1,
             "",
             !pre_norm_});
    AddSite({HookPoint::kMlpOutIn, "", {kFc2}, "", relu ? kFc1 : "", false});
  }

  at::Tensor Forward(const at::Tensor& hidden,
                     const ForwardContext& context) const override {
    const Norm& norm1 = norm(kNorm1);
    const Norm& norm2 = norm(kNorm2);
    at::Tensor h =
        Hooked(HookPoint::kAttnIn, pre_norm_ ? norm1.Forward(hidden) : hidden);
    at::Tensor attention = Hooked(
        HookPoint::kAttnOutIn,
        SiteFunction(Sites()[0], h, Consumers("attn_in"), context, true));
    at::Tensor x =
        hidden + linear(kOut).Forward(attention, context.matmul_dtype);
    if (!pre_norm_) x = norm1.Forward(x);
    at::Tensor m = Hooked(HookPoint::kMlpIn, pre_norm_ ? norm2.Forward(x) : x);
    at::Tensor activated =
        Hooked(HookPoint::kMlpOutIn,
               SiteFunction(Sites()[2], m, Consumers("mlp_in"), context, true));
    x = x + linear(kFc2).Forward(activated, context.matmul_dtype);
    return pre_norm_ ? x : norm2.Forward(x);
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
    // HF scales q right after the projection and then attends with scale 1.
    double scaling = 1.0 / std::sqrt(static_cast<double>(head_dim_));
    at::Tensor q = SplitHeads(qkv[0].Forward(x, context.matmul_dtype) * scaling,
                              num_heads_);
    at::Tensor k = ProjectHeads(qkv[1], x, num_heads_, context);
    at::Tensor v = ProjectHeads(qkv[2], x, num_heads_, context);
    if (hooked) {
      q = Hooked(HookPoint::kQuery, q);
      k = Hooked(HookPoint::kKey, k);
      v = Hooked(HookPoint::kValue, v);
    }
    return AttentionContext(q, k, v, context, /*scale=*/1.0,
                            hooked ? HookAt(HookPoint::kProbs) : nullptr);
  }

  int64_t num_heads_;
  int64_t head_dim_;
  bool pre_norm_;
  Activation activation_;
};

class OptModel : public Model {
 public:
  OptModel(const io::ModelConfig& config,
           std::shared_ptr<const io::TensorSource> source,
           const ModelOptions& options)
      : Model(config, std::move(source), options),
        loader_(this->source(), options.device) {
    prefix_ = loader_.Contains("model.decoder.embed_tokens.weight")
                  ? "model.decoder."
                  : "decoder.";
    int64_t v = config.vocab_size, c = config.hidden_size;
    int64_t p = config.word_embed_proj_dim > 0 ? config.word_embed_proj_dim : c;
    AddResident(prefix_ + "embed_tokens.weight",
                loader_.Load(prefix_ + "embed_tokens.weight", {v, p}));
    AddResident(
        prefix_ + "embed_positions.weight",
        loader_.Load(prefix_ + "embed_positions.weight",
                     {config.max_position_embeddings + kPositionOffset, c}));
    if (config.do_layer_norm_before) {
      final_norm_ = loader_.LoadNorm(prefix_ + "final_layer_norm",
                                     NormKind::kLayer, c, config.norm_eps);
      AddResident(prefix_ + "final_layer_norm.weight", final_norm_.weight);
      AddResident(prefix_ + "final_layer_norm.bias", final_norm_.bias);
    }
    if (p != c) {
      AddResident(prefix_ + "project_in.weight",
                  loader_.Load(prefix_ + "project_in.weight", {c, p}));
      AddResident(prefix_ + "project_out.weight",
                  loader_.Load(prefix_ + "project_out.weight", {p, c}));
    }
    if (!config.tie_word_embeddings || loader_.Contains("lm_head.weight")) {
      AddResident("lm_head.weight", loader_.Load("lm_head.weight", {v, p}));
    }
  }

  OutputKind output_kind() const override { return OutputKind::kLogits; }

  ForwardContext MakeContext(const at::Tensor& ids,
                             const at::Tensor& token_mask) const override {
    at::Tensor device_ids = ids.to(options().device);
    ForwardContext context =
        MakeMaskContext(device_ids, token_mask, /*causal=*/true);
    context.fused_attention = options().fused_attention;
    context.matmul_dtype = options().matmul_dtype;
    if (context.seq_len > config().max_position_embeddings) {
      throw ModelError("OPT: " + std::to_string(context.seq_len) +
                       " tokens exceed config max_position_embeddings " +
                       std::to_string(config().max_position_embeddings));
    }
    if (context.token_mask.defined()) {
      // HF: cumsum(mask) * mask - 1, so padding sits at position -1.
      at::Tensor mask = context.token_mask.to(at::kLong);
      context.positions = at::cumsum(mask, 1) * mask - 1;
    } else {
      context.positions = at::arange(context.seq_len, device_ids.options())
                              .unsqueeze(0)
                              .expand({context.batch_size, context.seq_len});
    }
    return context;
  }

  at::Tensor Embed(const at::Tensor& ids,
                   const ForwardContext& context) const override {
    CheckIds(ids, config().vocab_size);
    at::Tensor tokens = at::embedding(Resident(prefix_ + "embed_tokens.weight"),
                                      ids.to(options().device));
    if (HasResident(prefix_ + "project_in.weight")) {
      tokens = at::linear(tokens, Resident(prefix_ + "project_in.weight"));
    }
    at::Tensor positions =
        at::embedding(Resident(prefix_ + "embed_positions.weight"),
                      context.positions + kPositionOffset);
    return tokens + positions;
  }

  std::unique_ptr<Block> LoadBlock(int64_t index) const override {
    return std::make_unique<OptBlock>(index, prefix_, config(), loader_);
  }

  at::Tensor Head(const at::Tensor& hidden,
                  const ForwardContext& context) const override {
    at::Tensor x = hidden;
    if (final_norm_.weight.defined()) {
      Norm norm = final_norm_;
      norm.weight = Resident(prefix_ + "final_layer_norm.weight");
      norm.bias = Resident(prefix_ + "final_layer_norm.bias");
      x = norm.Forward(x);
    }
    if (HasResident(prefix_ + "project_out.weight")) {
      x = at::linear(x, Resident(prefix_ + "project_out.weight"));
    }
    const at::Tensor& head = HasResident("lm_head.weight")
                                 ? Resident("lm_head.weight")
                                 : Resident(prefix_ + "embed_tokens.weight");
    return at::linear(x, head);
  }

 private:
  WeightLoader loader_;
  std::string prefix_;
  Norm final_norm_;
};

}  // namespace

std::unique_ptr<Model> MakeOptModel(
    const io::ModelConfig& config,
    std::shared_ptr<const io::TensorSource> source,
    const ModelOptions& options) {
  return std::make_unique<OptModel>(config, std::move(source), options);
}

}  // namespace quantd::engine::model
