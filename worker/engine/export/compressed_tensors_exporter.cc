#include "worker/engine/export/compressed_tensors_exporter.h"

#include <map>
#include <set>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/hf_config_writer.h"
#include "worker/engine/export/linear_codes.h"
#include "worker/engine/export/tokenizer_files.h"

namespace quantd::engine::exporting {
namespace {

constexpr char kLmHead[] = "lm_head";
// The compressed-tensors release whose reading of the format is tested
// (scripts/requirements.txt pins it).
constexpr char kCompressedTensorsVersion[] = "0.20.1";

// The Linear layers a LLaMA-family input site feeds, relative to the block.
const std::vector<std::string>* SiteConsumers(const std::string& point) {
  static const std::map<std::string, std::vector<std::string>> kConsumers = {
      {"attn_in", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
      {"attn_out_in", {"self_attn.o_proj"}},
      {"mlp_in", {"mlp.gate_proj", "mlp.up_proj"}},
      {"mlp_out_in", {"mlp.down_proj"}}};
  auto found = kConsumers.find(point);
  return found == kConsumers.end() ? nullptr : &found->second;
}

const char* StrategyName(contract::Granularity granularity) {
  switch (granularity) {
    case contract::Granularity::kPerTensor:
      return "tensor";
    case contract::Granularity::kPerChannel:
      return "channel";
    case contract::Granularity::kPerToken:
      return "token";
    case contract::Granularity::kPerGroup:
      return "group";
  }
  return "tensor";
}

// QuantizationArgs as compressed-tensors serializes them.
nlohmann::json QuantizationArgs(const contract::TensorScheme& scheme,
                                bool weights) {
  nlohmann::json args = {
      {"num_bits", scheme.bits},
      {"type", "int"},
      {"symmetric", scheme.symmetric},
      {"strategy", StrategyName(scheme.granularity)},
      {"group_size", scheme.granularity == contract::Granularity::kPerGroup
                         ? nlohmann::json(scheme.group_size)
                         : nlohmann::json(nullptr)},
      {"dynamic", scheme.dynamic},
      {"observer", weights || !scheme.dynamic ? nlohmann::json("minmax")
                                              : nlohmann::json(nullptr)}};
  if (!scheme.symmetric) args["zp_dtype"] = "torch.int8";
  return args;
}

// The scale tensor shape compressed-tensors expects for a weight.
std::vector<int64_t> CtScaleShape(const LinearCodes& codes,
                                  contract::Granularity granularity) {
  if (granularity == contract::Granularity::kPerTensor) return {1};
  if (granularity == contract::Granularity::kPerChannel) {
    return {codes.codes.size(0), 1};
  }
  return codes.param_shape;  // [out, groups]
}

}  // namespace

at::Tensor PackToInt32(const at::Tensor& codes, int bits) {
  TORCH_CHECK(codes.dim() == 2 && bits >= 1 && bits <= 8);
  const int64_t rows = codes.size(0), cols = codes.size(1);
  const int64_t words = (cols * bits + 31) / 32;
  const at::Tensor values = codes.to(at::kLong).contiguous();
  at::Tensor packed = at::zeros({rows, words}, at::kLong);
  const int64_t* in = values.data_ptr<int64_t>();
  int64_t* out = packed.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const uint64_t value = static_cast<uint64_t>(in[r * cols + c]);
      const int64_t bit = c * bits;
      const int64_t word = bit / 32, offset = bit % 32;
      out[r * words + word] |=
          static_cast<int64_t>((value << offset) & 0xFFFFFFFFull);
      if (offset + bits > 32) {
        out[r * words + word + 1] |=
            static_cast<int64_t>(value >> (32 - offset));
      }
    }
  }
  // Reinterpret the low 32 bits as two's-complement int32.
  return packed.to(at::kUInt32).view(at::kInt).contiguous();
}

CompressedTensorsExporter::CompressedTensorsExporter(
    const io::ModelConfig& config, CompressedTensorsOptions options)
    : config_(config),
      options_(std::move(options)),
      format_(contract::CompressedTensorsFormatFor(options_.activations)),
      weights_(options_.dir, "model", options_.max_shard_bytes,
               {{"format", "pt"}}) {
  CheckConfigExportable(config_, options_.source);
  CheckTokenizerExportable(options_.source);
}

CompressedTensorsExporter::Named CompressedTensorsExporter::CompressLinear(
    const QuantizedLinear& linear, const at::Tensor& weight) {
  const std::string where =
      "compressed-tensors export: layer '" + linear.name + "'";
  const LinearCodes codes = RecoverLinearCodes(linear, weight, where);
  const int bits = linear.config.bits;
  const int64_t half = int64_t{1} << (bits - 1);
  // compressed-tensors' codes are signed; an unsigned grid moves down.
  const int64_t shift = codes.qmin >= 0 ? half : 0;
  if (codes.qmin - shift < -half || codes.qmax - shift > half - 1) {
    throw ExportError(where + ": grid [" + std::to_string(codes.qmin) + ", " +
                      std::to_string(codes.qmax) + "] does not fit " +
                      std::to_string(bits) + "-bit codes");
  }
  const std::vector<int64_t> scale_shape =
      CtScaleShape(codes, options_.weights.granularity);
  at::Tensor scale = codes.scales.reshape(scale_shape).contiguous();
  at::Tensor zero = (codes.zero_points.to(at::kLong) - shift)
                        .reshape(scale_shape)
                        .contiguous();
  const at::Tensor signed_codes = codes.codes.to(at::kLong) - shift;
  Named out;
  if (format_ == contract::CompressedTensorsFormat::kIntQuantized) {
    if (!options_.weights.symmetric || zero.ne(0).any().item<bool>()) {
      throw ExportError(where + ": int-quantized weights must be symmetric");
    }
    out.emplace_back(linear.name + ".weight", signed_codes.to(at::kChar));
    out.emplace_back(linear.name + ".weight_scale", scale);
    return out;
  }
  out.emplace_back(linear.name + ".weight_packed",
                   PackToInt32(signed_codes + half, bits));
  out.emplace_back(linear.name + ".weight_scale", scale);
  out.emplace_back(linear.name + ".weight_shape",
                   at::tensor(codes.codes.sizes().vec(), at::kLong));
  if (!options_.weights.symmetric) {
    out.emplace_back(
        linear.name + ".weight_zero_point",
        PackToInt32((zero + half).t().contiguous(), bits).t().contiguous());
  } else if (zero.ne(0).any().item<bool>()) {
    throw ExportError(where + ": symmetric weights with a zero point");
  }
  return out;
}

void CompressedTensorsExporter::AddBlock(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::vector<QuantizedLinear>& linears,
    const std::vector<ActivationQuant>& activations) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) by_name.emplace(name, &tensor);
  Named out;
  std::set<std::string> replaced;
  for (const QuantizedLinear& linear : linears) {
    const std::string weight = linear.name + ".weight";
    auto found = by_name.find(weight);
    if (found == by_name.end()) {
      throw ExportError("compressed-tensors export: layer '" + linear.name +
                        "' has no tensor '" + weight + "' in its block");
    }
    if (!linear.config.enabled) {
      ignored_.push_back(linear.name);
      continue;
    }
    Named compressed = CompressLinear(linear, *found->second);
    out.insert(out.end(), compressed.begin(), compressed.end());
    replaced.insert(weight);
    ++quantized_layers_;
  }
  for (const ActivationQuant& activation : activations) {
    const std::string where =
        "compressed-tensors export: activation '" + activation.name + "'";
    if (activation.input_shift.defined() || activation.input_scale.defined()) {
      throw ExportError(where +
                        ": its transform could not be folded into weights, "
                        "and compressed-tensors has no input transform");
    }
    const size_t dot = activation.name.rfind('.');
    const std::string prefix = activation.name.substr(0, dot + 1);
    const std::vector<std::string>* consumers =
        SiteConsumers(activation.name.substr(dot + 1));
    if (consumers == nullptr) {
      throw ExportError(where +
                        ": compressed-tensors quantizes Linear inputs only, "
                        "not activations inside attention");
    }
    if (!activation.qparams) continue;  // Dynamic: described by the config.
    static_activations_ = true;
    const at::Tensor scale = activation.qparams->scale.detach()
                                 .to(at::kCPU, at::kFloat)
                                 .reshape({1});
    const at::Tensor zero_point =
        IntegerZeroPoints(activation.qparams->zero_point, {1}, where);
    const int64_t shift =
        activation.qparams->qmin >= 0 ? (activation.qparams->qmax + 1) / 2 : 0;
    for (const std::string& consumer : *consumers) {
      out.emplace_back(prefix + consumer + ".input_scale", scale.clone());
      if (!options_.activations.symmetric) {
        out.emplace_back(prefix + consumer + ".input_zero_point",
                         (zero_point - shift).to(at::kChar));
      }
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (replaced.count(name) != 0) continue;
    out.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat));
  }
  weights_.AddGroup(out);
}

void CompressedTensorsExporter::AddResident(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  Named out;
  for (const auto& [name, tensor] : tensors) {
    out.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat));
  }
  weights_.AddGroup(out);
}

nlohmann::json CompressedTensorsExporter::QuantizationConfig() const {
  const char* format = contract::CompressedTensorsFormatName(format_);
  nlohmann::json group = {
      {"targets", {"Linear"}},
      {"weights", QuantizationArgs(options_.weights, true)},
      {"input_activations", options_.activations.enabled
                                ? QuantizationArgs(options_.activations, false)
                                : nlohmann::json(nullptr)},
      {"output_activations", nullptr},
      {"format", format}};
  nlohmann::json ignore = nlohmann::json::array({kLmHead});
  for (const std::string& name : ignored_) ignore.push_back(name);
  return {{"quant_method", "compressed-tensors"},
          {"format", format},
          {"quantization_status", "compressed"},
          {"config_groups", {{"group_0", group}}},
          {"ignore", ignore},
          {"kv_cache_scheme", nullptr},
          {"global_compression_ratio", nullptr},
          {"version", kCompressedTensorsVersion}};
}

std::vector<ShardFile> CompressedTensorsExporter::Finish() {
  const bool holds_head = weights_.Contains("lm_head.weight");
  std::vector<ShardFile> files = weights_.Finish();
  nlohmann::ordered_json config =
      ExportConfigJson(config_, options_.source, holds_head);
  config["quantization_config"] =
      nlohmann::ordered_json::parse(QuantizationConfig().dump());
  files.push_back(
      {"config.json", WriteFileAtomically(options_.dir / "config.json",
                                          config.dump(2) + "\n")});
  std::vector<ShardFile> tokenizer =
      WriteTokenizerFiles(options_.source, options_.dir);
  files.insert(files.end(), tokenizer.begin(), tokenizer.end());
  return files;
}

nlohmann::json CompressedTensorsExporter::Summary() const {
  return {{"layout", contract::CompressedTensorsFormatName(format_)},
          {"quantized_layers", quantized_layers_},
          {"static_input_scales", static_activations_},
          {"ignored_layers", ignored_.size() + 1}};
}

}  // namespace quantd::engine::exporting
