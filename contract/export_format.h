// Export formats: their names (proto enum, CLI spelling, output
// directory), the specification each follows, and the rule of which
// scheme and model each format can hold. One source of truth for quantd
// (refusal at submit, INVALID_ARGUMENT naming export_formats), quantctl
// (flag spelling) and quantd-engine (what it writes, and the same refusal
// should a spec reach it unchecked). docs/EXPORT.md describes the files.
//
//   HF_SAFETENSORS     model/   the transformed model before rounding
//   PACKED_INT         packed/  codes + scales in quantd's own layout
//   COMPRESSED_TENSORS compressed-tensors/  what vLLM and transformers
//                      load: W8A8 int8 as "int-quantized", weight-only
//                      4/8-bit per-channel or per-group as "pack-quantized"
//   GGUF               gguf/model.gguf  what llama.cpp loads: weight-only
//                      4-bit g32 as Q4_0 (symmetric) or Q4_1
//                      (asymmetric), symmetric 8-bit g32 as Q8_0
//
// Plain values and functions; no LibTorch, gRPC or protobuf. Thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "contract/scheme_preset.h"

namespace quantd::contract {

enum class ExportFormat {
  kHfSafetensors,
  kPackedInt,
  kCompressedTensors,
  kGguf
};

struct ExportFormatInfo {
  ExportFormat format;
  const char* proto_name;  // "EXPORT_FORMAT_COMPRESSED_TENSORS"
  const char* cli_name;    // "compressed-tensors"
  const char* directory;   // Under the job's out dir.
  // The kind of the artifacts the format writes ("model", "packed",
  // "compressed-tensors", "gguf"), as `quantctl fetch --kind` selects them.
  const char* artifact_kind;
  // The specification the files follow, recorded in the manifest.
  const char* specification;
};

// Every format, in proto enum order.
std::span<const ExportFormatInfo> ExportFormats();
const ExportFormatInfo& InfoOf(ExportFormat format);
// By proto name (with or without "EXPORT_FORMAT_"), CLI name or alias
// ("hf", "packed", "hf_safetensors", "packed_int", "compressed-tensors",
// "compressed_tensors", "gguf"), case-insensitive; nullopt when unknown.
std::optional<ExportFormat> ParseExportFormat(std::string_view name);
// "hf, packed, compressed-tensors, gguf": for error messages.
std::string ExportFormatCliNames();

// What the rule needs to know of the model.
struct ModelFacts {
  std::string architecture;   // "llama", "mistral", "qwen2", "opt", "bert"...
  bool llama_family = false;  // Decoder of the LLaMA architecture.
  bool gguf_source = false;   // Read from a .gguf file.
};

enum class CompressedTensorsFormat { kIntQuantized, kPackQuantized };
// ggml_type numbers.
enum class GgufType { kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 8 };
inline constexpr int kGgufBlockSize = 32;

// Throws ContractError (field "export_formats") saying why `format`
// cannot hold a job of this effective scheme on this model, naming the
// format and the scheme (`scheme_name`, e.g. "w6a6"). HF_SAFETENSORS and
// PACKED_INT hold everything.
void CheckExportable(ExportFormat format, std::string_view scheme_name,
                     const TensorScheme& weights,
                     const TensorScheme& activations, const ModelFacts& model);

// What a compressed-tensors export writes; call after CheckExportable.
CompressedTensorsFormat CompressedTensorsFormatFor(
    const TensorScheme& activations);
const char* CompressedTensorsFormatName(CompressedTensorsFormat format);
// The GGUF type of the quantized weights; call after CheckExportable.
GgufType GgufTypeFor(const TensorScheme& weights);
const char* GgufTypeName(GgufType type);  // "Q4_0", "Q4_1", "Q8_0"

}  // namespace quantd::contract
