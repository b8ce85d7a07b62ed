// The parameterised pieces a block is made of, as plain data the block owns:
// Linear (y = x Wᵀ + b) and Norm (RMSNorm or LayerNorm), plus the element-
// wise activation functions by their HF names. Methods read and replace the
// tensors directly; the forward functions read whatever is there at call
// time, so a replaced weight (even one that carries an autograd graph, as
// OmniQuant's learnable transforms need) takes effect at once.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace quantd::engine::model {

// A linear layer. Copyable: a copy shares the tensors (at::Tensor is a
// handle), so replace a tensor rather than writing into it in place when the
// original must survive.
// x Wᵀ (+ b) with the product computed in `compute` (Linear::Forward).
at::Tensor LinearProduct(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias, at::ScalarType compute);

struct Linear {
  // [out_features, in_features], float32; or [K, out_features, in_features]:
  // K stacked candidates of the layer (the OS+ search), where x splits
  // into K equal candidate-major parts along its leading dimensions and
  // part k goes through candidate k.
  at::Tensor weight;
  at::Tensor bias;  // [out_features], or undefined when the layer has none.

  // x Wᵀ + b in x's dtype. With `compute` kBFloat16 (or kHalf), x and W are
  // rounded to it for the product (accumulated in float32 by the CPU and
  // CUDA kernels), and the product comes back in x's dtype before the bias
  // is added; any other `compute` changes nothing. Stacked weights take
  // float32 products.
  at::Tensor Forward(const at::Tensor& x,
                     at::ScalarType compute = at::kFloat) const;
  int64_t in_features() const { return weight.size(-1); }
  int64_t out_features() const { return weight.size(-2); }
};

enum class NormKind {
  kRms,  // y = γ ⊙ x / sqrt(mean(x²) + eps) (+ β when a method sets one).
  kLayer,  // y = γ ⊙ (x − mean) / sqrt(var + eps) + β.
};

// A normalisation layer. `bias` is undefined for a plain RMSNorm; a method
// may set one (an equivalent transformation with a shift needs it), and the
// forward then adds it.
struct Norm {
  NormKind kind = NormKind::kRms;
  at::Tensor weight;  // γ, [C].
  at::Tensor bias;    // β, [C] or undefined.
  double eps = 1e-5;

  at::Tensor Forward(const at::Tensor& x) const;
};

// An element-wise activation, resolved once from its HF name so the forward
// never compares strings.
enum class Activation {
  kRelu,
  kSilu,
  kGeluErf,   // "gelu": the exact erf form.
  kGeluTanh,  // "gelu_new", "gelu_pytorch_tanh", "gelu_fast".
};

// Throws ModelError naming `field` for an activation the engine lacks.
Activation ParseActivation(std::string_view name, std::string_view field);
at::Tensor Activate(Activation activation, const at::Tensor& x);

}  // namespace quantd::engine::model
