#include "worker/engine/model/layers.h"

#include <string>
#include <vector>

#include "worker/engine/model/model_error.h"

namespace quantd::engine::model {

at::Tensor LinearProduct(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias, at::ScalarType compute) {
  // Only a reduced type changes anything: float32 and float64 inputs keep
  // their own dtype (the methods' gradient checks run in float64).
  if (!at::isReducedFloatingType(compute) || compute == x.scalar_type()) {
    return at::linear(x, weight, bias);
  }
  at::Tensor product =
      at::linear(x.to(compute), weight.to(compute)).to(x.scalar_type());
  return bias.defined() ? product + bias : product;
}

at::Tensor Linear::Forward(const at::Tensor& x, at::ScalarType compute) const {
  if (weight.dim() != 3) return LinearProduct(x, weight, bias, compute);
  const int64_t count = weight.size(0);
  if (x.numel() % (count * x.size(-1)) != 0) {
    throw ModelError("stacked linear: " + std::to_string(count) +
                     " candidates do not divide the input's " +
                     std::to_string(x.numel() / x.size(-1)) + " rows");
  }
  at::Tensor product =
      at::matmul(x.reshape({count, -1, x.size(-1)}), weight.transpose(1, 2));
  if (bias.defined()) product = product + bias;
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(1);
  return product.reshape(shape);
}

at::Tensor Norm::Forward(const at::Tensor& x) const {
  if (kind == NormKind::kLayer) {
    return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
  }
  // HF LlamaRMSNorm, term by term, so float rounding matches the reference.
  at::Tensor variance = x.pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor y = weight * (x * at::rsqrt(variance + eps));
  return bias.defined() ? y + bias : y;
}

Activation ParseActivation(std::string_view name, std::string_view field) {
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "gelu") return Activation::kGeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" ||
      name == "gelu_fast") {
    return Activation::kGeluTanh;
  }
  throw ModelError(std::string(field) + ": unsupported activation '" +
                   std::string(name) + "'");
}

at::Tensor Activate(Activation activation, const at::Tensor& x) {
  switch (activation) {
    case Activation::kRelu:
      return at::relu(x);
    case Activation::kSilu:
      return at::silu(x);
    case Activation::kGeluErf:
      return at::gelu(x);
    case Activation::kGeluTanh:
      return at::gelu(x, "tanh");
  }
  return x;
}

}  // namespace quantd::engine::model
