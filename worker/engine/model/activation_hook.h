// ActivationHook: the callback a method installs at a named point of a block
// (the input of a group of Linear layers, or Q/K/V/probabilities inside
// attention). It receives the activation and returns what the block uses in
// its place: the identity to capture statistics, a fake-quantized copy to
// simulate quantized inference.
#pragma once

#include <ATen/ATen.h>

#include <functional>

namespace quantd::engine::model {

using ActivationHook = std::function<at::Tensor(const at::Tensor&)>;

}  // namespace quantd::engine::model
