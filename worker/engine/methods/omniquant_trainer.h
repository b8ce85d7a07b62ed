// OmniQuant's block-wise training (docs/ALGORITHMS.md §5.1): the block's
// quantized forward rebuilt at every step from the learnable state (LET
// applied to the original tensors, then every weight fake-quantized through
// its LWC, activations fake-quantized by straight-through hooks), the MSE
// against the FP block's outputs, and AdamW with two parameter groups (LET,
// LWC) and weight decay 0, over a fixed number of epochs in sample order
// (the reference does not shuffle, so there is no randomness: the result
// depends only on the block's inputs and the options).
//
// Arithmetic is float32 unless TrainingOptions.mixed_precision: then the
// training forwards run under bfloat16 autocast on the block's device type
// (the reference uses fp16 autocast with a loss scaler on GPUs; bfloat16
// has float32's exponent range, so no scaler is needed). The parameters,
// the optimizer state, the loss and the fused result stay float32.
//
// Ownership: refers to the block, transform, clippings and context cache it
// is given (they must outlive it); its hooks point into the trainer, so the
// destructor clears the block's hooks. Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "worker/engine/methods/method.h"
#include "worker/engine/methods/omniquant_let.h"
#include "worker/engine/methods/omniquant_quantizer.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::methods {

struct TrainingOptions {
  int64_t epochs = 20;
  double lwc_lr = 1e-2;
  double let_lr = 5e-3;
  // Samples per optimizer step (the last step of an epoch may have fewer).
  int64_t batch = 1;
  bool aug_loss = false;
  // bfloat16 autocast for the training forwards (see above).
  bool mixed_precision = false;
};

// One block's training set, each [N, T, C] on the block's device.
struct TrainingData {
  at::Tensor inputs;   // The quantized stream at the block's input.
  at::Tensor targets;  // The FP block on the FP stream.
  // The FP block on the quantized stream (the reference's --aug_loss), or
  // undefined.
  at::Tensor aug_targets;
};

// Called after each epoch with its index (0-based) and mean step loss.
using EpochCallback = std::function<void(int64_t epoch, double mean_loss)>;

// AdamW (PyTorch's update, amsgrad off) over groups of leaf tensors with
// one learning rate each. Owns its moment estimates. Not thread-safe.
class AdamW {
 public:
  struct Group {
    std::vector<at::Tensor> parameters;
    double lr = 1e-3;
  };

  explicit AdamW(std::vector<Group> groups, double weight_decay = 0.0);
  void ZeroGrad();
  // One update of every parameter that has a gradient.
  void Step();

 private:
  struct State {
    at::Tensor exp_avg;
    at::Tensor exp_avg_sq;
  };

  std::vector<Group> groups_;
  std::vector<std::vector<State>> states_;
  double weight_decay_;
  int64_t step_ = 0;
};

class BlockTrainer {
 public:
  // `clipping` holds one entry per Linear of the block; `activations` the
  // quantizer config (include_zero false) of each quantized hook point.
  BlockTrainer(model::Block& block, LearnableTransform& let,
               std::map<std::string, LearnableClipping>& clipping,
               std::map<model::HookPoint, quant::QuantConfig> activations,
               ContextCache& contexts);
  ~BlockTrainer();
  BlockTrainer(const BlockTrainer&) = delete;
  BlockTrainer& operator=(const BlockTrainer&) = delete;

  // Installs the current transformed and fake-quantized tensors and the
  // activation hooks on the block, then runs `x` through it:
  // differentiable in every LET and LWC parameter.
  at::Tensor Forward(const at::Tensor& x, Rounding& rounding);
  // The training loss of samples [begin, end): MSE against the targets
  // (plus against the aug targets when they are defined).
  at::Tensor Loss(const TrainingData& data, int64_t begin, int64_t end,
                  Rounding& rounding);
  // Loss over all the data (each batch's weighted by its samples, so the
  // batching does not change it), computed `batch` samples at a time
  // without a graph.
  double MeanLoss(const TrainingData& data, int64_t batch);

  // Runs the epochs; returns each epoch's mean step loss. Throws
  // MethodError when a loss is not finite.
  std::vector<double> Train(const TrainingData& data,
                            const TrainingOptions& options,
                            const EpochCallback& on_epoch);

 private:
  model::Block& block_;
  LearnableTransform& let_;
  std::map<std::string, LearnableClipping>& clipping_;
  std::map<model::HookPoint, quant::QuantConfig> activations_;
  ContextCache& contexts_;
};

}  // namespace quantd::engine::methods
