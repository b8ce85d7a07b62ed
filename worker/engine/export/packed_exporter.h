// PackedExporter: the quantized model as integers
// (docs/formats/packed-weights.md): every quantized Linear's weight becomes
// integer codes ("<layer>.qweight": int8/uint8 for 5-8 bits, two 4-bit
// codes a byte for <= 4 bits) with float32 scales ("<layer>.scales") and
// int32 zero points ("<layer>.zero_points"); static activation quantizers
// contribute their scales and zero points and any input transform; every
// other tensor (norms, biases, embeddings, unquantized layers) is kept in
// float32 under its HF name. The weights go to "quantized.safetensors" (or
// shards), the description of every quantizer to "quant_config.json".
//
// Blocks arrive one at a time and are written into shards as they fill
// (sharded_writer.h). Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/export/sharded_writer.h"
#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::exporting {

// A quantized Linear layer. Its weight is the tensor "<name>.weight" of the
// block's tensors: the fake-quantized weight the quantized model computes
// with, from which the codes are recovered exactly.
struct QuantizedLinear {
  std::string name;  // Module name, e.g. "model.layers.3.self_attn.q_proj".
  quant::QuantConfig config;
  quant::QParams qparams;  // Per config.granularity, as the method used.
};

// An activation quantizer at one hook point of a block.
struct ActivationQuant {
  std::string name;  // Block prefix + hook point: "model.layers.3.attn_in".
  quant::QuantConfig config;
  std::optional<quant::QParams> qparams;  // Static quantizers only.
  // x ↦ (x − input_shift) ⊘ input_scale per channel before quantization,
  // for transforms that could not be folded into weights; undefined: none.
  at::Tensor input_shift;
  at::Tensor input_scale;
};

struct PackedOptions {
  std::filesystem::path dir;  // e.g. "<out>/packed"
  uint64_t max_shard_bytes = uint64_t{1} << 30;
};

class PackedExporter {
 public:
  explicit PackedExporter(PackedOptions options);

  // Packs the layers of one block. `tensors` are the block's tensors under
  // HF names; each layer's "<name>.weight" must be among them. Throws
  // ExportError naming the layer (missing weight, non-integer zero point,
  // parameters of the wrong shape) or quant::QuantError.
  void AddBlock(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                const std::vector<QuantizedLinear>& linears,
                const std::vector<ActivationQuant>& activations);
  // Tensors kept in float32 (embedding, final norm, head).
  void AddFloat(const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  // Per layer / activation: its quant_config.json entry.
  const nlohmann::json& layers() const { return layers_; }
  const nlohmann::json& activations() const { return activations_; }

  // Writes the weights and quant_config.json (`header` fields such as
  // method and scheme are merged in). Names relative to options.dir.
  std::vector<ShardFile> Finish(const nlohmann::json& header);

 private:
  using Named = std::vector<std::pair<std::string, at::Tensor>>;
  // The codes, scales and zero points of one layer; records its entry.
  Named PackLinear(const QuantizedLinear& linear, const at::Tensor& weight);
  // The tensors of one activation quantizer; records its entry.
  Named PackActivation(const ActivationQuant& activation);

  PackedOptions options_;
  ShardedSafetensorsWriter weights_;
  nlohmann::json layers_ = nlohmann::json::object();
  nlohmann::json activations_ = nlohmann::json::object();
  int64_t float_tensors_ = 0;
};

// The stable JSON description of a quantizer config (the names of
// quant_config.h), shared by quant_config.json and report.json.
nlohmann::json QuantConfigJson(const quant::QuantConfig& config);

// The packed-weights format's dequantization rule, stated once.
inline constexpr char kDequantizationFormula[] =
    "w = (float32(q) - float32(zero_point)) * scale, evaluated in float32, "
    "where (scale, zero_point) is the pair of the element's granularity row";

}  // namespace quantd::engine::exporting
