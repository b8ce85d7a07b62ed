// ActivationQuantizers: the live activation quantizers of the block being
// quantized, one optional quant::Quantizer per hook point plus the input
// transform of that point, installed on the block as hooks that call back
// into this object. A mode switches all of them at once between the
// passes a method runs (FP reference, statistics-only observation,
// calibration with fake quantization, frozen evaluation), and a recorder
// per point lets a method capture what reaches it.
//
// Ownership: the hooks hold a pointer to this object, so it must outlive
// every forward of the block that uses them; Finish-style code replaces them
// with self-contained hooks (InstallActivationQuantizers) before the object
// goes away. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <functional>
#include <optional>
#include <vector>

#include "worker/engine/methods/block_state.h"
#include "worker/engine/model/block.h"
#include "worker/engine/quant/quantizer.h"

namespace quantd::engine::methods {

enum class HookMode {
  kOff,           // Transform only (the equivalent FP model).
  kObserveOnly,   // Static quantizers observe; output stays FP.
  kObserveApply,  // Unfrozen static quantizers observe; all quantize.
  kApply,         // All quantize; nothing observes.
};

class ActivationQuantizers {
 public:
  // What a recorder receives: the raw activation at its point, before the
  // point's transform and quantizer.
  using Recorder = std::function<void(const at::Tensor&)>;

  explicit ActivationQuantizers(model::Block& block);
  ~ActivationQuantizers();
  ActivationQuantizers(const ActivationQuantizers&) = delete;
  ActivationQuantizers& operator=(const ActivationQuantizers&) = delete;

  // Creates (or replaces) the quantizer of `point`. A disabled config
  // removes it.
  void Enable(model::HookPoint point, const quant::QuantConfig& config);
  bool enabled(model::HookPoint point) const;
  // Every point with a quantizer, in hook-point order.
  std::vector<model::HookPoint> EnabledPoints() const;
  const quant::QuantConfig& config(model::HookPoint point) const;

  // Composes `transform` after the point's existing one.
  void AddTransform(model::HookPoint point, const InputTransform& transform);
  const InputTransform& transform(model::HookPoint point) const;

  void SetMode(HookMode mode) { mode_ = mode; }
  HookMode mode() const { return mode_; }
  // Static quantizers forget every observation / stop observing.
  void ResetStatic();
  void FreezeStatic();
  // Whether some static quantizer is not frozen yet, i.e. a calibration
  // forward would observe anything.
  bool HasUnfrozenStatic() const;

  // Sets (or, with an empty function, clears) the recorder of `point`.
  void SetRecorder(model::HookPoint point, Recorder recorder);

  // The frozen states of every enabled point and every transform.
  std::vector<ActivationState> States() const;

 private:
  struct Slot {
    std::optional<quant::Quantizer> quantizer;
    InputTransform transform;
    Recorder recorder;
  };

  at::Tensor Process(model::HookPoint point, const at::Tensor& x);
  // Re-installs hooks for exactly the points that need one (an idle probs
  // hook would force the explicit attention path).
  void Refresh();
  Slot& slot(model::HookPoint point);
  const Slot& slot(model::HookPoint point) const;

  model::Block& block_;
  HookMode mode_ = HookMode::kObserveApply;
  std::array<Slot, model::kNumHookPoints> slots_;
};

}  // namespace quantd::engine::methods
