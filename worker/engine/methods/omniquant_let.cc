#include "worker/engine/methods/omniquant_let.h"

#include <ATen/core/grad_mode.h>

#include <string>

#include "worker/engine/methods/equivalent_transform.h"
#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {
namespace {

constexpr double kMinScale = 1e-5;  // SmoothQuant's clamp of the init.
constexpr double kTruncation = 1e-2;
constexpr double kCenterDecay = 0.99;  // OmniQuant's shift EMA.

constexpr model::HookPoint kStatisticPoints[] = {model::HookPoint::kAttnIn,
                                                 model::HookPoint::kAttnOutIn,
                                                 model::HookPoint::kMlpIn};

void Accumulate(SiteStatistics& stats, const at::Tensor& x) {
  const at::Tensor samples = x.reshape({x.size(0), -1, x.size(-1)});
  for (int64_t i = 0; i < samples.size(0); ++i) {
    const at::Tensor high = at::amax(samples[i], 0);
    const at::Tensor low = at::amin(samples[i], 0);
    const at::Tensor absmax = at::maximum(high.abs(), low.abs());
    const at::Tensor center = (high + low) / 2;
    if (!stats.absmax.defined()) {
      stats.absmax = absmax;
      stats.center = center;
      continue;
    }
    stats.absmax = at::maximum(stats.absmax, absmax);
    stats.center = stats.center * kCenterDecay + center * (1.0 - kCenterDecay);
  }
}

const SiteStatistics& StatisticsAt(const LetStatistics& statistics,
                                   const model::Block& block,
                                   const model::InputSite& site) {
  auto found = statistics.find(site.point);
  if (found == statistics.end() || !found->second.absmax.defined()) {
    throw MethodError("OmniQuant LET, block " + block.prefix() +
                      ": no statistics at site '" + site.name + "'");
  }
  return found->second;
}

at::Tensor Learnable(const at::Tensor& value) {
  return value.detach().clone().requires_grad_(true);
}

// SmoothQuant's scale with max|W_j| over the rows of every consumer.
at::Tensor InitialScale(const at::Tensor& absmax,
                        const std::vector<model::Linear>& consumers,
                        double alpha) {
  at::Tensor weight_max;
  for (const model::Linear& layer : consumers) {
    const at::Tensor m = at::amax(layer.weight.abs(), 0);
    weight_max = weight_max.defined() ? at::maximum(weight_max, m) : m;
  }
  const at::Tensor act = absmax.clamp_min(kMinScale);
  return (act.pow(alpha) / weight_max.clamp_min(kMinScale).pow(1.0 - alpha))
      .clamp_min(kMinScale);
}

bool ConsumersHaveBiases(const model::Block& block,
                         const model::InputSite& site) {
  for (const std::string& name : site.consumers) {
    if (!block.linear(name).bias.defined()) return false;
  }
  return true;
}

LetPair SitePair(const model::Block& block, const model::InputSite& site,
                 const SiteStatistics& stats, const LetOptions& options) {
  LetPair pair;
  pair.kind = LetKind::kSite;
  pair.site = site;
  pair.scale = Learnable(
      InitialScale(stats.absmax, block.Consumers(site.name), options.alpha));
  if (options.shift && CanShiftSite(block, site)) {
    pair.shift = Learnable(stats.center);
  }
  return pair;
}

LetPair ProducerPair(const model::Block& block, const model::InputSite& site,
                     const SiteStatistics& stats, const LetOptions& options) {
  LetPair pair;
  pair.kind = LetKind::kProducer;
  pair.site = site;
  pair.scale = Learnable(
      InitialScale(stats.absmax, block.Consumers(site.name), options.alpha));
  if (options.shift && block.linear(site.producer).bias.defined() &&
      ConsumersHaveBiases(block, site)) {
    pair.shift = Learnable(stats.center);
  }
  return pair;
}

// The Q/K pair, or nothing when the layout does not allow the tied form.
std::optional<LetPair> QueryKeyPair(const model::Block& block,
                                    const HeadLayout& heads) {
  const model::InputSite& site = block.Sites().front();
  if (site.point != model::HookPoint::kAttnIn || site.consumers.size() < 2 ||
      heads.head_dim % 2 != 0 || heads.num_kv_heads <= 0 ||
      heads.num_heads % heads.num_kv_heads != 0) {
    return std::nullopt;
  }
  const int64_t q_rows = block.linear(site.consumers[0]).out_features();
  const int64_t k_rows = block.linear(site.consumers[1]).out_features();
  if (q_rows != heads.num_heads * heads.head_dim ||
      k_rows != heads.num_kv_heads * heads.head_dim) {
    throw MethodError("OmniQuant LET, block " + block.prefix() + ": '" +
                      site.consumers[0] + "' and '" + site.consumers[1] +
                      "' have " + std::to_string(q_rows) + " and " +
                      std::to_string(k_rows) +
                      " rows, not the query/key heads of the config");
  }
  LetPair pair;
  pair.kind = LetKind::kQueryKey;
  pair.site = site;
  pair.scale =
      Learnable(at::ones({heads.num_kv_heads, heads.head_dim / 2},
                         block.linear(site.consumers[0]).weight.options()));
  return pair;
}

}  // namespace

LetStatistics CollectLetStatistics(model::Block& block,
                                   const std::vector<at::Tensor>& batches,
                                   ContextCache& contexts) {
  at::NoGradGuard no_grad;
  LetStatistics statistics;
  for (model::HookPoint point : kStatisticPoints) {
    block.SetHook(point, [&statistics, point](const at::Tensor& x) {
      Accumulate(statistics[point], x);
      return x;
    });
  }
  try {
    for (const at::Tensor& x : batches) {
      block.Forward(x, contexts.For(x.size(0)));
    }
  } catch (...) {
    block.ClearHooks();
    throw;
  }
  block.ClearHooks();
  return statistics;
}

LearnableTransform::LearnableTransform(const model::Block& block,
                                       const LetStatistics& statistics,
                                       const LetOptions& options)
    : heads_(options.heads) {
  for (const std::string& name : block.LinearNames()) {
    linears_[name] = block.linear(name);
  }
  for (const std::string& name : block.NormNames()) {
    norms_[name] = block.norm(name);
  }
  if (!options.enabled) return;
  for (const model::InputSite& site : block.Sites()) {
    const bool norm_site = site.point == model::HookPoint::kAttnIn ||
                           site.point == model::HookPoint::kMlpIn;
    if (norm_site && CanScaleSite(site)) {
      pairs_.push_back(SitePair(
          block, site, StatisticsAt(statistics, block, site), options));
    }
  }
  for (const model::InputSite& site : block.Sites()) {
    if (site.point == model::HookPoint::kAttnOutIn && !site.producer.empty()) {
      pairs_.push_back(ProducerPair(
          block, site, StatisticsAt(statistics, block, site), options));
    }
  }
  if (options.query_key) {
    if (std::optional<LetPair> pair = QueryKeyPair(block, heads_)) {
      pairs_.push_back(std::move(*pair));
    }
  }
}

std::vector<at::Tensor> LearnableTransform::parameters() const {
  std::vector<at::Tensor> parameters;
  for (const LetPair& pair : pairs_) {
    parameters.push_back(pair.scale);
    if (pair.shift.defined()) parameters.push_back(pair.shift);
  }
  return parameters;
}

void LearnableTransform::Truncate() {
  at::NoGradGuard no_grad;
  for (LetPair& pair : pairs_) {
    const at::Tensor& s = pair.scale;
    const at::Tensor floor =
        at::where(s >= 0, at::scalar_tensor(kTruncation, s.options()),
                  at::scalar_tensor(-kTruncation, s.options()));
    s.copy_(at::where(s.abs() < kTruncation, floor, s));
  }
}

void LearnableTransform::ApplySite(
    const LetPair& pair, Layers& layers, Norms& norms,
    std::map<model::HookPoint, InputTransform>& hooks) const {
  const at::Tensor& s = pair.scale;
  const at::Tensor& d = pair.shift;
  for (const std::string& name : pair.site.consumers) {
    model::Linear& layer = layers.at(name);
    // The bias moves first, with the unscaled W.
    if (d.defined()) layer.bias = layer.bias + at::matmul(layer.weight, d);
    layer.weight = layer.weight * s.unsqueeze(0);
  }
  if (pair.site.feeds_residual) {
    hooks[pair.site.point] = InputTransform{d, s};
    return;
  }
  model::Norm& norm = norms.at(pair.site.norm);
  if (d.defined()) norm.bias = norm.bias - d;
  norm.weight = norm.weight / s;
  if (norm.bias.defined()) norm.bias = norm.bias / s;
}

void LearnableTransform::ApplyProducer(const LetPair& pair,
                                       Layers& layers) const {
  const at::Tensor& s = pair.scale;
  const at::Tensor& d = pair.shift;
  model::Linear& producer = layers.at(pair.site.producer);
  producer.weight = producer.weight / s.unsqueeze(1);
  if (producer.bias.defined()) {
    producer.bias = (d.defined() ? producer.bias - d : producer.bias) / s;
  }
  for (const std::string& name : pair.site.consumers) {
    model::Linear& layer = layers.at(name);
    if (d.defined()) layer.bias = layer.bias + at::matmul(layer.weight, d);
    layer.weight = layer.weight * s.unsqueeze(0);
  }
}

void LearnableTransform::ApplyQueryKey(const LetPair& pair,
                                       Layers& layers) const {
  const int64_t kv_heads = heads_.num_kv_heads;
  const int64_t repeats = heads_.num_heads / kv_heads;
  // [Hkv, D]: both halves of a head (the rotary pairs) share a value.
  const at::Tensor per_head = at::cat({pair.scale, pair.scale}, 1);
  const at::Tensor key_scale = per_head.reshape({-1});
  const at::Tensor query_scale =
      per_head.unsqueeze(1)
          .expand({kv_heads, repeats, heads_.head_dim})
          .reshape({-1});
  model::Linear& query = layers.at(pair.site.consumers[0]);
  model::Linear& key = layers.at(pair.site.consumers[1]);
  query.weight = query.weight / query_scale.unsqueeze(1);
  if (query.bias.defined()) query.bias = query.bias / query_scale;
  key.weight = key.weight * key_scale.unsqueeze(1);
  if (key.bias.defined()) key.bias = key.bias * key_scale;
}

std::map<model::HookPoint, InputTransform> LearnableTransform::Apply(
    model::Block& block) const {
  Layers layers = linears_;
  Norms norms = norms_;
  std::map<model::HookPoint, InputTransform> hooks;
  for (const LetPair& pair : pairs_) {
    switch (pair.kind) {
      case LetKind::kSite:
        ApplySite(pair, layers, norms, hooks);
        break;
      case LetKind::kProducer:
        ApplyProducer(pair, layers);
        break;
      case LetKind::kQueryKey:
        ApplyQueryKey(pair, layers);
        break;
    }
  }
  for (auto& [name, layer] : layers) block.linear(name) = std::move(layer);
  for (auto& [name, norm] : norms) block.norm(name) = std::move(norm);
  return hooks;
}

std::map<model::HookPoint, InputTransform> LearnableTransform::Fuse(
    model::Block& block) {
  Truncate();
  at::NoGradGuard no_grad;
  std::map<model::HookPoint, InputTransform> hooks = Apply(block);
  for (auto& [point, transform] : hooks) {
    if (transform.shift.defined()) {
      transform.shift = transform.shift.detach().clone();
    }
    transform.scale = transform.scale.detach().clone();
  }
  return hooks;
}

}  // namespace quantd::engine::methods
