// Method: the one interface every quantization method implements (RTN,
// SmoothQuant, OS, OS+, and OmniQuant next). The pipeline hands a method
// one block at a time together with the calibration streams at that
// block's input; the method transforms the block, quantizes its weights,
// calibrates and installs its activation quantizers, and returns the state
// to save plus per-layer figures. The pipeline then runs the quantized
// block over the stream to get the next block's inputs.
//
// Ownership: a Method is created per job by the registry and owned by the
// pipeline; it may keep per-job state between blocks. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "worker/engine/methods/block_state.h"
#include "worker/engine/methods/method_params.h"
#include "worker/engine/model/block.h"
#include "worker/engine/model/model.h"
#include "worker/engine/quant/scheme.h"

namespace quantd::engine::methods {

// Figures of one transformed layer group (quantd.v1.LayerFigure). NaN
// where a figure is not defined for the method.
struct LayerFigure {
  std::string name;  // "blocks.3.attn_in"
  double loss_before = std::numeric_limits<double>::quiet_NaN();
  double loss_after = std::numeric_limits<double>::quiet_NaN();
  double threshold = std::numeric_limits<double>::quiet_NaN();
  double scale_min = std::numeric_limits<double>::quiet_NaN();
  double scale_max = std::numeric_limits<double>::quiet_NaN();
  double scale_mean = std::numeric_limits<double>::quiet_NaN();
};

// Sets scale_min/max/mean from a scale vector.
void SetScaleFigures(LayerFigure& figure, const at::Tensor& scale);

// The calibration streams at a block's input, in batches of [b, T, C].
// Batch 0 is the statistics batch (OS+ computes z and s from it).
struct BlockInputs {
  // From the already-quantized chain (what the block sees when deployed).
  std::vector<at::Tensor> quantized;
  // From the FP chain; empty unless Method::needs_fp_stream().
  std::vector<at::Tensor> fp;
  // The unmodified block's outputs for every sample of `fp`, [N, T, C] in
  // one tensor (the next block's FP stream, computed once before the
  // method runs; a method may keep views of it without a copy). Undefined
  // unless Method::needs_fp_stream().
  at::Tensor fp_outputs;
};

// Forward contexts of calibration batches, which carry no padding and so
// depend only on the batch size. Not thread-safe.
class ContextCache {
 public:
  ContextCache(const model::Model& model, int64_t seq_len)
      : model_(model), seq_len_(seq_len) {}
  int64_t seq_len() const { return seq_len_; }
  const model::ForwardContext& For(int64_t batch_size);

 private:
  const model::Model& model_;
  int64_t seq_len_;
  std::map<int64_t, model::ForwardContext> contexts_;
};

class WeightRounder;  // block_session.h

// What a method may read while quantizing a block; the pointees outlive
// the call.
struct MethodContext {
  const model::Model* model = nullptr;
  const quant::QuantScheme* scheme = nullptr;
  ContextCache* contexts = nullptr;
  // Post-LN models: the norm that produced this block's input (the last
  // norm of the previous block), for methods that need its γ (OS gamma
  // migration). Null when unknown (block 0) or not Post-LN.
  const model::Norm* input_norm = nullptr;
  // Progress inside a long block (OmniQuant: once per training epoch):
  // `done` is the finished share of the block, in (0, 1]; `figure` names
  // the step and carries its loss. May be empty.
  std::function<void(double done, const LayerFigure& figure)> progress;
  // How BlockSession::QuantizeSite rounds a site's weights: a recipe's
  // rounding stage (GPTQ); null for RTN.
  WeightRounder* rounder = nullptr;
};

struct BlockOutcome {
  BlockQuantState state;
  std::vector<LayerFigure> figures;
};

class Method {
 public:
  virtual ~Method() = default;

  // Whether BlockInputs::fp (and fp_outputs) must be filled.
  virtual bool needs_fp_stream() const { return false; }
  // Whether the method reads the calibration streams at all under
  // `scheme`. When it does not, the pipeline runs no calibration forward
  // and BlockInputs is empty (data-free: RTN without static activation
  // quantizers).
  virtual bool reads_calibration(const quant::QuantScheme& scheme) const {
    (void)scheme;
    return true;
  }

  // Transforms `block` in place and leaves it quantized: weights replaced by
  // their fake-quantized values, activation quantizers calibrated, frozen
  // and installed as self-contained hooks. Deterministic for given inputs.
  virtual BlockOutcome QuantizeBlock(model::Block& block,
                                     const BlockInputs& inputs,
                                     const MethodContext& context) = 0;
};

}  // namespace quantd::engine::methods
