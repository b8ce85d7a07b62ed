#include "worker/engine/export/packed_exporter.h"

#include <cmath>
#include <map>
#include <set>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/linear_codes.h"
#include "worker/engine/export/nibble_packing.h"

namespace quantd::engine::exporting {
namespace {

// Whether a grid fits 4-bit nibbles: signed [-8, 7] or unsigned [0, 15].
bool FitsNibble(const quant::QParams& qparams) {
  return (qparams.qmin >= -8 && qparams.qmax <= 7) ||
         (qparams.qmin >= 0 && qparams.qmax <= 15);
}

std::string CodeDtypeName(bool is_signed, bool nibble) {
  if (nibble) return is_signed ? "int4" : "uint4";
  return is_signed ? "int8" : "uint8";
}

}  // namespace

nlohmann::json QuantConfigJson(const quant::QuantConfig& config) {
  return {{"enabled", config.enabled},
          {"bits", config.bits},
          {"symmetric", config.symmetric},
          {"grid", quant::GridName(config.grid)},
          {"granularity", quant::GranularityName(config.granularity)},
          {"group_size", config.group_size},
          {"dynamic", config.dynamic},
          {"observer", quant::ObserverKindName(config.observer)},
          {"include_zero", config.include_zero},
          {"description", quant::DescribeQuantConfig(config)}};
}

PackedExporter::PackedExporter(PackedOptions options)
    : options_(std::move(options)),
      weights_(options_.dir, "quantized", options_.max_shard_bytes,
               {{"format", "quantd-packed"}}) {}

PackedExporter::Named PackedExporter::PackLinear(const QuantizedLinear& linear,
                                                 const at::Tensor& weight) {
  const std::string where = "packed export: layer '" + linear.name + "'";
  const LinearCodes codes = RecoverLinearCodes(linear, weight, where);
  const std::vector<int64_t>& param_shape = codes.param_shape;
  const bool is_signed = codes.codes.scalar_type() == at::kChar;
  const bool nibble = linear.config.bits <= 4 && FitsNibble(linear.qparams);
  at::Tensor stored = nibble ? PackNibbles(codes.codes) : codes.codes;
  layers_[linear.name] = {
      {"weight_shape", codes.codes.sizes().vec()},
      {"config", QuantConfigJson(linear.config)},
      {"qmin", linear.qparams.qmin},
      {"qmax", linear.qparams.qmax},
      {"codes",
       {{"tensor", linear.name + ".qweight"},
        {"dtype", CodeDtypeName(is_signed, nibble)},
        {"packing", nibble ? "nibble" : "none"},
        {"shape", stored.sizes().vec()}}},
      {"scales", {{"tensor", linear.name + ".scales"}, {"shape", param_shape}}},
      {"zero_points",
       {{"tensor", linear.name + ".zero_points"}, {"shape", param_shape}}},
      {"bit_exact", codes.bit_exact},
      {"dequantization_max_abs_error", codes.max_abs_error}};
  return {{linear.name + ".qweight", std::move(stored)},
          {linear.name + ".scales", codes.scales},
          {linear.name + ".zero_points", codes.zero_points}};
}

PackedExporter::Named PackedExporter::PackActivation(
    const ActivationQuant& activation) {
  Named out;
  const std::string where =
      "packed export: activation '" + activation.name + "'";
  nlohmann::json entry = {{"config", QuantConfigJson(activation.config)},
                          {"static", activation.qparams.has_value()}};
  auto add = [&](const char* field, at::Tensor tensor) {
    const std::string name = activation.name + "." + field;
    entry["tensors"][field] = {{"tensor", name},
                               {"shape", tensor.sizes().vec()}};
    out.emplace_back(name, std::move(tensor));
  };
  if (activation.qparams) {
    const at::Tensor& scale = activation.qparams->scale;
    const std::vector<int64_t> shape = {std::max<int64_t>(scale.numel(), 1)};
    entry["qmin"] = activation.qparams->qmin;
    entry["qmax"] = activation.qparams->qmax;
    add("scales",
        scale.detach().to(at::kCPU, at::kFloat).reshape(shape).contiguous());
    add("zero_points",
        IntegerZeroPoints(activation.qparams->zero_point, shape, where));
  }
  if (activation.input_shift.defined()) {
    add("input_shift",
        activation.input_shift.detach().to(at::kCPU, at::kFloat).contiguous());
  }
  if (activation.input_scale.defined()) {
    add("input_scale",
        activation.input_scale.detach().to(at::kCPU, at::kFloat).contiguous());
  }
  activations_[activation.name] = std::move(entry);
  return out;
}

void PackedExporter::AddBlock(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::vector<QuantizedLinear>& linears,
    const std::vector<ActivationQuant>& activations) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) by_name.emplace(name, &tensor);
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::set<std::string> packed;
  for (const QuantizedLinear& linear : linears) {
    if (!linear.config.enabled) continue;
    const std::string weight = linear.name + ".weight";
    auto found = by_name.find(weight);
    if (found == by_name.end()) {
      throw ExportError("packed export: layer '" + linear.name +
                        "' has no tensor '" + weight + "' in its block");
    }
    if (layers_.contains(linear.name) || !packed.insert(weight).second) {
      throw ExportError("packed export: layer '" + linear.name +
                        "' was already added");
    }
    Named codes = PackLinear(linear, *found->second);
    out.insert(out.end(), codes.begin(), codes.end());
  }
  for (const ActivationQuant& activation : activations) {
    Named parameters = PackActivation(activation);
    out.insert(out.end(), parameters.begin(), parameters.end());
  }
  for (const auto& [name, tensor] : tensors) {
    if (packed.count(name) != 0) continue;
    out.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat));
    ++float_tensors_;
  }
  weights_.AddGroup(out);
}

void PackedExporter::AddFloat(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, tensor] : tensors) {
    out.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat));
  }
  float_tensors_ += static_cast<int64_t>(out.size());
  weights_.AddGroup(out);
}

std::vector<ShardFile> PackedExporter::Finish(const nlohmann::json& header) {
  std::vector<ShardFile> files = weights_.Finish();
  nlohmann::json config = header;
  config["format"] = "quantd-packed";
  config["format_version"] = 1;
  config["weights"] = files.size() == 1
                          ? files.front().name
                          : std::string("quantized.safetensors.index.json");
  config["dequantization"] = kDequantizationFormula;
  config["nibble_packing"] =
      "two codes per byte along the last dimension: code 2k in bits 0-3, "
      "code 2k+1 in bits 4-7; int4 as 4-bit two's complement; an odd row "
      "length leaves the last high nibble 0";
  config["layers"] = layers_;
  config["activations"] = activations_;
  config["float_tensor_count"] = float_tensors_;
  files.push_back({"quant_config.json",
                   WriteFileAtomically(options_.dir / "quant_config.json",
                                       config.dump(2) + "\n")});
  return files;
}

}  // namespace quantd::engine::exporting
