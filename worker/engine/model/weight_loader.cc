#include "worker/engine/model/weight_loader.h"

#include <sstream>

#include "worker/engine/model/model_error.h"

namespace quantd::engine::model {
namespace {

std::string ShapeString(at::IntArrayRef shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

}  // namespace

at::Tensor WeightLoader::Load(const std::string& name,
                              const std::vector<int64_t>& shape) const {
  if (!source_.Contains(name)) {
    throw ModelError(source_.Describe() + ": tensor '" + name + "': missing");
  }
  at::Tensor tensor = source_.LoadFloat(name);
  if (tensor.sizes() != at::IntArrayRef(shape)) {
    throw ModelError(source_.Describe() + ": tensor '" + name +
                     "': expected shape " + ShapeString(shape) +
                     " from the config, found " + ShapeString(tensor.sizes()));
  }
  return tensor.to(device_);
}

at::Tensor WeightLoader::LoadIfPresent(
    const std::string& name, const std::vector<int64_t>& shape) const {
  if (!source_.Contains(name)) return {};
  return Load(name, shape);
}

Linear WeightLoader::LoadLinear(const std::string& name, int64_t out_features,
                                int64_t in_features, BiasPolicy bias) const {
  Linear linear;
  linear.weight = Load(name + ".weight", {out_features, in_features});
  std::string bias_name = name + ".bias";
  switch (bias) {
    case BiasPolicy::kNone:
      if (source_.Contains(bias_name)) {
        throw ModelError(source_.Describe() + ": tensor '" + bias_name +
                         "': unexpected bias for this architecture");
      }
      break;
    case BiasPolicy::kRequired:
      linear.bias = Load(bias_name, {out_features});
      break;
    case BiasPolicy::kOptional:
      linear.bias = LoadIfPresent(bias_name, {out_features});
      break;
  }
  return linear;
}

Norm WeightLoader::LoadNorm(const std::string& name, NormKind kind,
                            int64_t size, double eps) const {
  Norm norm;
  norm.kind = kind;
  norm.eps = eps;
  norm.weight = Load(name + ".weight", {size});
  if (kind == NormKind::kLayer) norm.bias = Load(name + ".bias", {size});
  return norm;
}

}  // namespace quantd::engine::model
