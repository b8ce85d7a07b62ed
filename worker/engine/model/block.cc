#include "worker/engine/model/block.h"

#include <string>

#include "worker/engine/model/model_error.h"

namespace quantd::engine::model {

namespace {

constexpr std::array<std::string_view, kNumHookPoints> kHookPointNames = {
    "attn_in", "attn_out_in", "mlp_in", "mlp_out_in",
    "query",   "key",         "value",  "probs",
};

template <typename T>
T* FindNamed(std::vector<std::pair<std::string, T>>& items,
             std::string_view name) {
  for (auto& [item_name, item] : items) {
    if (item_name == name) return &item;
  }
  return nullptr;
}

}  // namespace

std::string_view HookPointName(HookPoint point) {
  return kHookPointNames[static_cast<size_t>(point)];
}

HookPoint ParseHookPoint(std::string_view name) {
  for (size_t i = 0; i < kHookPointNames.size(); ++i) {
    if (kHookPointNames[i] == name) return static_cast<HookPoint>(i);
  }
  throw ModelError("unknown hook point '" + std::string(name) +
                   "' (expected attn_in, attn_out_in, mlp_in, mlp_out_in, "
                   "query, key, value or probs)");
}

Block::Block(int64_t index, std::string prefix)
    : index_(index), prefix_(std::move(prefix)) {}

const InputSite& Block::Site(std::string_view name) const {
  for (const InputSite& site : sites_) {
    if (site.name == name) return site;
  }
  throw ModelError("block " + prefix_ + ": no input site '" +
                   std::string(name) + "'");
}

std::vector<std::string> Block::LinearNames() const {
  std::vector<std::string> names;
  for (const auto& [name, layer] : linears_) names.push_back(name);
  return names;
}

std::vector<std::string> Block::NormNames() const {
  std::vector<std::string> names;
  for (const auto& [name, layer] : norms_) names.push_back(name);
  return names;
}

Linear& Block::linear(std::string_view name) {
  Linear* found = FindNamed(linears_, name);
  if (found == nullptr) {
    throw ModelError("block " + prefix_ + ": no linear layer '" +
                     std::string(name) + "'");
  }
  return *found;
}

const Linear& Block::linear(std::string_view name) const {
  return const_cast<Block*>(this)->linear(name);
}

Norm& Block::norm(std::string_view name) {
  Norm* found = FindNamed(norms_, name);
  if (found == nullptr) {
    throw ModelError("block " + prefix_ + ": no norm '" + std::string(name) +
                     "'");
  }
  return *found;
}

const Norm& Block::norm(std::string_view name) const {
  return const_cast<Block*>(this)->norm(name);
}

std::vector<Linear> Block::Consumers(std::string_view site) const {
  std::vector<Linear> layers;
  for (const std::string& name : Site(site).consumers) {
    layers.push_back(linear(name));
  }
  return layers;
}

std::vector<std::pair<std::string, at::Tensor>> Block::NamedTensors() const {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto add = [&](const std::string& name, const at::Tensor& weight,
                 const at::Tensor& bias) {
    tensors.emplace_back(prefix_ + name + ".weight", weight);
    if (bias.defined()) tensors.emplace_back(prefix_ + name + ".bias", bias);
  };
  for (const auto& [name, layer] : norms_) add(name, layer.weight, layer.bias);
  for (const auto& [name, layer] : linears_) {
    add(name, layer.weight, layer.bias);
  }
  return tensors;
}

void Block::SetHook(HookPoint point, ActivationHook hook) {
  hooks_[static_cast<size_t>(point)] = std::move(hook);
}

void Block::SetHook(std::string_view point, ActivationHook hook) {
  SetHook(ParseHookPoint(point), std::move(hook));
}

void Block::ClearHooks() {
  for (ActivationHook& hook : hooks_) hook = nullptr;
}

at::Tensor Block::SiteForward(std::string_view site, const at::Tensor& x,
                              std::span<const Linear> consumers,
                              const ForwardContext& context) const {
  const InputSite& found = Site(site);
  if (consumers.size() != found.consumers.size()) {
    throw ModelError("block " + prefix_ + ": site '" + found.name + "' takes " +
                     std::to_string(found.consumers.size()) +
                     " linear layers, got " + std::to_string(consumers.size()));
  }
  return SiteFunction(found, x, consumers, context, /*hooked=*/false);
}

void Block::To(const at::Device& device) {
  auto move = [&](at::Tensor& tensor) {
    if (tensor.defined()) tensor = tensor.to(device);
  };
  for (auto& [name, layer] : linears_) {
    move(layer.weight);
    move(layer.bias);
  }
  for (auto& [name, layer] : norms_) {
    move(layer.weight);
    move(layer.bias);
  }
}

void Block::AddLinear(std::string name, Linear linear) {
  linears_.emplace_back(std::move(name), std::move(linear));
}

void Block::AddNorm(std::string name, Norm norm) {
  norms_.emplace_back(std::move(name), std::move(norm));
}

void Block::AddSite(InputSite site) {
  site.name = std::string(HookPointName(site.point));
  sites_.push_back(std::move(site));
}

at::Tensor Block::Hooked(HookPoint point, const at::Tensor& x) const {
  const ActivationHook& hook = hooks_[static_cast<size_t>(point)];
  return hook ? hook(x) : x;
}

const ActivationHook* Block::HookAt(HookPoint point) const {
  const ActivationHook& hook = hooks_[static_cast<size_t>(point)];
  return hook ? &hook : nullptr;
}

}  // namespace quantd::engine::model
