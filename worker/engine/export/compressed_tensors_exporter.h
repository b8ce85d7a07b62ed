// CompressedTensorsExporter: the quantized model as compressed-tensors
// (the format llm-compressor writes and vLLM serves natively): an HF
// directory `compressed-tensors/` with config.json carrying
// "quantization_config" (quant_method "compressed-tensors", status
// "compressed"), the source's tokenizer files, and safetensors shards
// (+ index) holding, per quantized Linear "<layer>":
//   int-quantized (W8A8):   <layer>.weight int8 [out, in] (= q − zp),
//                           <layer>.weight_scale f32 [out, 1] or [1],
//                           <layer>.input_scale (+ input_zero_point) for
//                           static per-tensor activations
//   pack-quantized (WxA16): <layer>.weight_packed int32 [out, ⌈in·b/32⌉]
//                           (32 codes + 2^(b−1) densely in b words, element
//                           i at bit i·b), <layer>.weight_scale f32
//                           [out, groups], <layer>.weight_shape int64 [2],
//                           <layer>.weight_zero_point int32 (asymmetric:
//                           zp − 2^(b−1) packed the same way along dim 0)
// and every other tensor in float32 under its HF name. Codes are signed as
// compressed-tensors defines them ([−2^(b−1), 2^(b−1) − 1]); an unsigned
// grid's codes and zero points are shifted by 2^(b−1), which leaves q − zp
// (and so every weight) unchanged. The method's equivalent transforms are
// already in the block tensors (scaled norms, folded weights), so the file
// is the plain architecture; an input transform that could not be folded
// or a quantizer inside attention has no compressed-tensors form and is an
// ExportError. Which schemes are written at all is contract/export_format.h.
//
// Blocks stream through (sharded_writer.h). Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "contract/export_format.h"
#include "worker/engine/export/packed_exporter.h"
#include "worker/engine/export/sharded_writer.h"
#include "worker/engine/io/model_config.h"

namespace quantd::engine::exporting {

struct CompressedTensorsOptions {
  std::filesystem::path dir;     // "<out>/compressed-tensors"
  std::filesystem::path source;  // The model as the job read it.
  uint64_t max_shard_bytes = uint64_t{1} << 30;
  contract::TensorScheme weights;  // The job's effective scheme.
  contract::TensorScheme activations;
};

class CompressedTensorsExporter {
 public:
  // Throws ExportError for a config.json that cannot be built.
  CompressedTensorsExporter(const io::ModelConfig& config,
                            CompressedTensorsOptions options);

  // One block's tensors (as the quantized model computes with them), its
  // quantized Linear layers and activation quantizers. Throws ExportError.
  void AddBlock(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                const std::vector<QuantizedLinear>& linears,
                const std::vector<ActivationQuant>& activations);
  // Embedding, final norm, head: float32.
  void AddResident(
      const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  // Writes the last shard, config.json and the tokenizer files; names are
  // relative to options.dir.
  std::vector<ShardFile> Finish();

  // {"layout": "pack-quantized", "quantized_layers": N, ...} for the report.
  nlohmann::json Summary() const;

 private:
  using Named = std::vector<std::pair<std::string, at::Tensor>>;
  Named CompressLinear(const QuantizedLinear& linear, const at::Tensor& weight);
  nlohmann::json QuantizationConfig() const;

  io::ModelConfig config_;
  CompressedTensorsOptions options_;
  contract::CompressedTensorsFormat format_;
  ShardedSafetensorsWriter weights_;
  std::vector<std::string> ignored_;  // Linear layers left in float.
  int64_t quantized_layers_ = 0;
  bool static_activations_ = false;
};

// compressed-tensors' dense int32 packing of `codes` (int32 values in
// [0, 2^bits)) along the last dimension: 32 values fill `bits` words,
// value i at bit i·bits, little-endian words; a partial last group is
// padded with zeros. [rows, cols] → [rows, ⌈cols·bits/32⌉].
at::Tensor PackToInt32(const at::Tensor& codes, int bits);

}  // namespace quantd::engine::exporting
