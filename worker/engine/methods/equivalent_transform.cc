#include "worker/engine/methods/equivalent_transform.h"

#include <string>

#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {
namespace {

std::string Where(const model::Block& block, const model::InputSite& site) {
  return "block " + block.prefix() + " site '" + site.name + "'";
}

enum class Sign { kAny, kNonZero, kPositive };

void CheckChannelVector(const model::Block& block, const model::InputSite& site,
                        const at::Tensor& v, const char* what, Sign sign) {
  const int64_t channels = block.linear(site.consumers.front()).in_features();
  if (v.dim() != 1 || v.size(0) != channels) {
    throw MethodError(Where(block, site) + ": " + what + " must be [" +
                      std::to_string(channels) + "], got " +
                      std::to_string(v.dim()) + "-d");
  }
  if (!at::isfinite(v).all().item<bool>()) {
    throw MethodError(Where(block, site) + ": " + what +
                      " has non-finite entries");
  }
  if (sign == Sign::kPositive && !(v > 0).all().item<bool>()) {
    throw MethodError(Where(block, site) + ": " + what + " must be > 0");
  }
  if (sign == Sign::kNonZero && (v == 0).any().item<bool>()) {
    throw MethodError(Where(block, site) + ": " + what + " has zeros");
  }
}

}  // namespace

bool CanScaleSite(const model::InputSite& site) {
  return site.feeds_residual || !site.norm.empty();
}

bool CanShiftSite(const model::Block& block, const model::InputSite& site) {
  if (!CanScaleSite(site)) return false;
  for (const std::string& name : site.consumers) {
    if (!block.linear(name).bias.defined()) return false;
  }
  return site.feeds_residual || block.norm(site.norm).bias.defined();
}

std::vector<model::Linear> TransformedConsumers(const model::Block& block,
                                                const model::InputSite& site,
                                                const at::Tensor& shift,
                                                const at::Tensor& scale) {
  std::vector<model::Linear> layers = block.Consumers(site.name);
  for (model::Linear& layer : layers) {
    // The bias moves first, with the original W.
    if (shift.defined()) {
      layer.bias = layer.bias + at::matmul(layer.weight, shift);
    }
    if (scale.defined()) layer.weight = layer.weight * scale.unsqueeze(0);
  }
  return layers;
}

InputTransform TransformSite(model::Block& block, const model::InputSite& site,
                             const at::Tensor& shift, const at::Tensor& scale) {
  if (!CanScaleSite(site)) {
    throw MethodError(Where(block, site) +
                      ": no norm to fold into and no residual hook");
  }
  if (shift.defined()) {
    if (!CanShiftSite(block, site)) {
      throw MethodError(Where(block, site) +
                        ": cannot shift (a consumer or the norm has no bias)");
    }
    CheckChannelVector(block, site, shift, "shift", Sign::kAny);
  }
  if (scale.defined()) {
    CheckChannelVector(block, site, scale, "scale", Sign::kNonZero);
  }
  std::vector<model::Linear> layers =
      TransformedConsumers(block, site, shift, scale);
  for (size_t i = 0; i < layers.size(); ++i) {
    block.linear(site.consumers[i]) = layers[i];
  }
  InputTransform transform{shift, scale};
  if (site.feeds_residual) return transform;
  model::Norm& norm = block.norm(site.norm);
  at::Tensor gamma = norm.weight, beta = norm.bias;
  if (shift.defined()) beta = beta - shift;
  if (scale.defined()) {
    gamma = gamma / scale;
    if (beta.defined()) beta = beta / scale;
  }
  norm.weight = gamma;
  norm.bias = beta;
  return {};
}

void ScaleThroughProducer(model::Block& block, const model::InputSite& site,
                          const at::Tensor& scale) {
  if (site.producer.empty()) {
    throw MethodError(Where(block, site) + ": no producer layer to scale");
  }
  CheckChannelVector(block, site, scale, "scale", Sign::kPositive);
  model::Linear& producer = block.linear(site.producer);
  producer.weight = producer.weight / scale.unsqueeze(1);
  if (producer.bias.defined()) producer.bias = producer.bias / scale;
  for (const std::string& name : site.consumers) {
    model::Linear& consumer = block.linear(name);
    consumer.weight = consumer.weight * scale.unsqueeze(0);
  }
}

}  // namespace quantd::engine::methods
