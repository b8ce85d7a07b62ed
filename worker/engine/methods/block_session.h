// BlockSession: the shared machinery of quantizing one block, written once
// for every method: statistics capture at a hook point, equivalent
// transformations that keep the weight and activation state consistent,
// weight quantization of a site's consumers, activation quantizers per
// scheme (input sites, plus the attention BMM inputs for per-tensor
// schemes as OS+'s standard configs do), calibration over all batches and
// the final state. RunStandardFlow strings these together site by site
// (docs/ALGORITHMS.md §2.4: statistics → transformation → weight
// quantization, with earlier sites already quantized).
//
// Ownership: refers to the block, inputs and context it is given (they
// must outlive it); owns the live ActivationQuantizers. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/methods/activation_quantizers.h"
#include "worker/engine/methods/method.h"

namespace quantd::engine::methods {

// Which activation quantizers a block gets.
struct ActivationPlan {
  quant::QuantConfig sites;          // attn_in, attn_out_in, mlp_in, mlp_out_in
  quant::QuantConfig attention;      // query, key, value
  quant::QuantConfig probabilities;  // probs
};

// The scheme's plan: sites get the scheme's activation config; the BMM
// inputs are quantized with it only for per-tensor activations (OS+
// standard configs); fine-grained schemes leave them in FP (§1.5).
ActivationPlan DefaultActivationPlan(const quant::QuantScheme& scheme);

class BlockSession;

// A recipe's rounding stage (contract/recipe.h): rounds the weights of a
// site's consumers where RTN would, with the block as the session has left
// it (the site transformed, earlier sites quantized).
class WeightRounder {
 public:
  virtual ~WeightRounder() = default;
  // Replaces the weight of each of `consumers` (not quantized yet) by its
  // rounded value and returns their states, in the order given. May add
  // figures to the session.
  virtual std::vector<WeightState> Round(
      BlockSession& session, const model::InputSite& site,
      const std::vector<std::string>& consumers) = 0;
};

class BlockSession {
 public:
  BlockSession(model::Block& block, const BlockInputs& inputs,
               const MethodContext& context, ActivationPlan plan);
  ~BlockSession();

  model::Block& block() { return block_; }
  const BlockInputs& inputs() const { return inputs_; }
  const MethodContext& context() const { return context_; }
  ActivationQuantizers& activations() { return *activations_; }
  size_t batch_count() const { return inputs_.quantized.size(); }

  // The block's output for quantized-stream batch `index` as it stands.
  at::Tensor Forward(size_t index);
  // The raw activation reaching `point` for batch `index` (before the
  // point's transform and quantizer), the block as it stands.
  at::Tensor Capture(model::HookPoint point, size_t index = 0);

  // Equivalent transformations (equivalent_transform.h) that also keep the
  // session's hooks and weight states consistent. ScaleThroughProducer
  // folds the scale into an already-quantized producer exactly (its codes
  // stay; Δ ⊘ s).
  void TransformSite(const model::InputSite& site, const at::Tensor& shift,
                     const at::Tensor& scale);
  void ScaleThroughProducer(const model::InputSite& site,
                            const at::Tensor& scale);

  // Quantizes the weights of the site's consumers (once each; by the
  // context's rounder, RTN without one) and enables the site's activation
  // quantizer.
  void QuantizeSite(const model::InputSite& site);
  // Runs `body` with every weight quantized so far back at its unquantized
  // value (transforms kept), then puts the quantized weights back, also
  // when `body` throws.
  void WithUnquantizedWeights(const std::function<void()>& body);
  // Enables the BMM quantizers of the plan (no-op when disabled).
  void EnableAttentionQuantizers();
  // Static quantizers: forget, observe every batch in order with fake
  // quantization on (OS+'s calibration forward), freeze.
  void CalibrateActivations();

  void AddFigure(LayerFigure figure) { figures_.push_back(std::move(figure)); }
  // "blocks.<index>.<suffix>"
  std::string FigureName(const std::string& suffix) const;

  // Ends the session: collects the state, replaces the live hooks by
  // self-contained ones (InstallActivationQuantizers).
  BlockOutcome Finish();

 private:
  void RequireUnquantizedConsumers(const model::InputSite& site) const;

  model::Block& block_;
  const BlockInputs& inputs_;
  const MethodContext& context_;
  ActivationPlan plan_;
  std::unique_ptr<ActivationQuantizers> activations_;
  std::map<std::string, WeightState> weights_;
  std::vector<LayerFigure> figures_;
};

// A transformation step of RunStandardFlow, called once per input site
// before that site is quantized.
using SiteTransformer =
    std::function<void(BlockSession& session, const model::InputSite& site)>;
// The calibration step of RunStandardFlow.
using Calibrator = std::function<void(BlockSession& session)>;

// For each site in dataflow order: transform, QuantizeSite (and the BMM
// quantizers right after attn_in); then `calibrate` (default
// CalibrateActivations) and Finish.
BlockOutcome RunStandardFlow(model::Block& block, const BlockInputs& inputs,
                             const MethodContext& context,
                             const ActivationPlan& plan,
                             const SiteTransformer& transform,
                             const Calibrator& calibrate = {});

// Copies of a block's Linear and Norm structs, to undo transformations
// (every transformation replaces tensors, so the copies stay intact).
class BlockSnapshot {
 public:
  explicit BlockSnapshot(const model::Block& block);
  // Restores every layer and clears the hooks.
  void Restore(model::Block& block) const;

 private:
  std::vector<std::pair<std::string, model::Linear>> linears_;
  std::vector<std::pair<std::string, model::Norm>> norms_;
};

// The block's outputs for every batch, hooks as installed.
std::vector<at::Tensor> BlockOutputs(const model::Block& block,
                                     const std::vector<at::Tensor>& batches,
                                     ContextCache& contexts);

// Mean squared error over all elements, in float64.
double MeanSquaredError(const at::Tensor& a, const at::Tensor& b);

}  // namespace quantd::engine::methods
