#include "worker/engine/methods/activation_quantizers.h"

#include <string>

#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {

ActivationQuantizers::ActivationQuantizers(model::Block& block)
    : block_(block) {}

ActivationQuantizers::~ActivationQuantizers() {
  // Hooks that still point here must not outlive this object.
  for (int i = 0; i < model::kNumHookPoints; ++i) {
    const auto point = static_cast<model::HookPoint>(i);
    const Slot& s = slots_[i];
    if (s.quantizer || !s.transform.empty() || s.recorder) {
      block_.SetHook(point, nullptr);
    }
  }
}

ActivationQuantizers::Slot& ActivationQuantizers::slot(model::HookPoint point) {
  return slots_[static_cast<size_t>(point)];
}

const ActivationQuantizers::Slot& ActivationQuantizers::slot(
    model::HookPoint point) const {
  return slots_[static_cast<size_t>(point)];
}

void ActivationQuantizers::Enable(model::HookPoint point,
                                  const quant::QuantConfig& config) {
  if (config.enabled) {
    slot(point).quantizer.emplace(config);
  } else {
    slot(point).quantizer.reset();
  }
  Refresh();
}

bool ActivationQuantizers::enabled(model::HookPoint point) const {
  return slot(point).quantizer.has_value();
}

std::vector<model::HookPoint> ActivationQuantizers::EnabledPoints() const {
  std::vector<model::HookPoint> points;
  for (int i = 0; i < model::kNumHookPoints; ++i) {
    if (slots_[i].quantizer) points.push_back(static_cast<model::HookPoint>(i));
  }
  return points;
}

const quant::QuantConfig& ActivationQuantizers::config(
    model::HookPoint point) const {
  if (!slot(point).quantizer) {
    throw MethodError("no activation quantizer at '" +
                      std::string(model::HookPointName(point)) + "'");
  }
  return slot(point).quantizer->config();
}

void ActivationQuantizers::AddTransform(model::HookPoint point,
                                        const InputTransform& transform) {
  slot(point).transform = slot(point).transform.Then(transform);
  Refresh();
}

const InputTransform& ActivationQuantizers::transform(
    model::HookPoint point) const {
  return slot(point).transform;
}

void ActivationQuantizers::ResetStatic() {
  for (Slot& s : slots_) {
    if (s.quantizer && s.quantizer->is_static()) s.quantizer->Reset();
  }
}

void ActivationQuantizers::FreezeStatic() {
  for (Slot& s : slots_) {
    if (s.quantizer && s.quantizer->is_static() && !s.quantizer->frozen()) {
      s.quantizer->Freeze();
    }
  }
}

bool ActivationQuantizers::HasUnfrozenStatic() const {
  for (const Slot& s : slots_) {
    if (s.quantizer && s.quantizer->is_static() && !s.quantizer->frozen()) {
      return true;
    }
  }
  return false;
}

void ActivationQuantizers::SetRecorder(model::HookPoint point,
                                       Recorder recorder) {
  slot(point).recorder = std::move(recorder);
  Refresh();
}

std::vector<ActivationState> ActivationQuantizers::States() const {
  std::vector<ActivationState> states;
  for (int i = 0; i < model::kNumHookPoints; ++i) {
    const Slot& s = slots_[i];
    if (!s.quantizer && s.transform.empty()) continue;
    ActivationState state;
    state.point = static_cast<model::HookPoint>(i);
    state.transform = s.transform;
    if (s.quantizer) {
      state.config = s.quantizer->config();
      if (s.quantizer->is_static()) state.qparams = s.quantizer->qparams();
    } else {
      state.config.enabled = false;
    }
    states.push_back(std::move(state));
  }
  return states;
}

at::Tensor ActivationQuantizers::Process(model::HookPoint point,
                                         const at::Tensor& x) {
  Slot& s = slot(point);
  if (s.recorder) s.recorder(x);
  at::Tensor y = s.transform.Apply(x);
  if (!s.quantizer || mode_ == HookMode::kOff) return y;
  quant::Quantizer& quantizer = *s.quantizer;
  bool observing = quantizer.is_static() && !quantizer.frozen();
  switch (mode_) {
    case HookMode::kObserveOnly:
      if (observing) quantizer.Observe(y);
      return y;
    case HookMode::kObserveApply:
      if (observing) quantizer.Observe(y);
      return quantizer.Apply(y);
    default:
      return quantizer.Apply(y);
  }
}

void ActivationQuantizers::Refresh() {
  for (int i = 0; i < model::kNumHookPoints; ++i) {
    const auto point = static_cast<model::HookPoint>(i);
    const Slot& s = slots_[i];
    if (s.quantizer || !s.transform.empty() || s.recorder) {
      block_.SetHook(point, [this, point](const at::Tensor& x) {
        return Process(point, x);
      });
    } else {
      block_.SetHook(point, nullptr);
    }
  }
}

}  // namespace quantd::engine::methods
