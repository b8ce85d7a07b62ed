// WeightLoader: loads a model's tensors by HF name from a TensorSource as
// float32 on the model's device, checking each shape against what the
// architecture and config expect, so a checkpoint that does not fit fails
// with a message naming the tensor instead of a shape error mid-forward.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "worker/engine/io/tensor_source.h"
#include "worker/engine/model/layers.h"

namespace quantd::engine::model {

enum class BiasPolicy {
  kNone,      // The layer has no bias; one in the checkpoint is an error.
  kRequired,  // The checkpoint must have it.
  kOptional,  // Loaded when present (e.g. Qwen2's q/k/v biases).
};

// Borrows the source, which must outlive the loader. Thread-safe (const).
class WeightLoader {
 public:
  WeightLoader(const io::TensorSource& source, at::Device device)
      : source_(source), device_(device) {}

  // Throws ModelError when `name` is missing or its shape is not `shape`.
  at::Tensor Load(const std::string& name,
                  const std::vector<int64_t>& shape) const;
  // Undefined when the source has no tensor `name`.
  at::Tensor LoadIfPresent(const std::string& name,
                           const std::vector<int64_t>& shape) const;
  // NAME.weight [out, in] and, per `bias`, NAME.bias [out].
  Linear LoadLinear(const std::string& name, int64_t out_features,
                    int64_t in_features, BiasPolicy bias) const;
  // NAME.weight [size] and, for LayerNorm, NAME.bias [size].
  Norm LoadNorm(const std::string& name, NormKind kind, int64_t size,
                double eps) const;

  bool Contains(const std::string& name) const {
    return source_.Contains(name);
  }

 private:
  const io::TensorSource& source_;
  at::Device device_;
};

}  // namespace quantd::engine::model
