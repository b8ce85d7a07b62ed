#include "contract/export_format.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

constexpr std::array<ExportFormatInfo, 4> kFormats = {{
    {ExportFormat::kHfSafetensors, "EXPORT_FORMAT_HF_SAFETENSORS", "hf",
     "model", "model", "Hugging Face transformers safetensors layout"},
    {ExportFormat::kPackedInt, "EXPORT_FORMAT_PACKED_INT", "packed", "packed",
     "packed", "quantd-packed 1 (docs/formats/packed-weights.md)"},
    {ExportFormat::kCompressedTensors, "EXPORT_FORMAT_COMPRESSED_TENSORS",
     "compressed-tensors", "compressed-tensors", "compressed-tensors",
     "compressed-tensors quantization_config (int-quantized, "
     "pack-quantized), as compressed-tensors 0.20 reads it"},
    {ExportFormat::kGguf, "EXPORT_FORMAT_GGUF", "gguf", "gguf", "gguf",
     "GGUF v3 (llama.cpp), general.architecture llama"},
}};

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lower;
}

[[noreturn]] void Refuse(ExportFormat format, std::string_view scheme,
                         const std::string& reason) {
  throw ContractError("export_formats", std::string(InfoOf(format).cli_name) +
                                            " cannot hold scheme '" +
                                            std::string(scheme) +
                                            "': " + reason);
}

std::string Bits(const TensorScheme& weights, const TensorScheme& act) {
  return "W" + std::to_string(weights.bits) + "A" +
         (act.enabled ? std::to_string(act.bits) : std::string("16"));
}

void CheckCompressedTensors(std::string_view scheme,
                            const TensorScheme& weights,
                            const TensorScheme& act, const ModelFacts& model) {
  constexpr ExportFormat kFormat = ExportFormat::kCompressedTensors;
  if (!model.llama_family) {
    Refuse(kFormat, scheme,
           "it is written for LLaMA-family decoders (llama, mistral, "
           "qwen2), and this model is " +
               model.architecture);
  }
  if (!weights.enabled) Refuse(kFormat, scheme, "the weights stay in FP");
  if (act.enabled) {
    if (weights.bits != 8 || act.bits != 8) {
      Refuse(kFormat, scheme,
             "no serving kernel runs " + Bits(weights, act) +
                 " (int-quantized is served for W8A8, pack-quantized for "
                 "weight-only 4- and 8-bit schemes)");
    }
    if (!weights.symmetric) {
      Refuse(kFormat, scheme,
             "W8A8 int8 kernels take symmetric weights (set "
             "scheme.weights.symmetric)");
    }
    if (weights.granularity == Granularity::kPerGroup) {
      Refuse(kFormat, scheme,
             "W8A8 int8 kernels take per-channel or per-tensor weights, not "
             "per-group");
    }
    if (act.granularity == Granularity::kPerGroup) {
      Refuse(kFormat, scheme,
             "W8A8 int8 kernels quantize activations per token or per "
             "tensor, not per group");
    }
    return;
  }
  if (weights.bits != 4 && weights.bits != 8) {
    Refuse(kFormat, scheme,
           "no serving kernel runs " + Bits(weights, act) +
               " (pack-quantized is served for 4- and 8-bit weights)");
  }
  if (weights.granularity == Granularity::kPerTensor) {
    Refuse(kFormat, scheme,
           "weight-only kernels take per-channel or per-group scales, not "
           "one per tensor");
  }
}

void CheckGguf(std::string_view scheme, const TensorScheme& weights,
               const TensorScheme& act, const ModelFacts& model) {
  constexpr ExportFormat kFormat = ExportFormat::kGguf;
  if (!model.llama_family) {
    Refuse(kFormat, scheme,
           "it is written for LLaMA-family decoders, and this model is " +
               model.architecture);
  }
  if (!model.gguf_source) {
    Refuse(kFormat, scheme,
           "the tokenizer is carried over from a GGUF source, and this "
           "model is an HF directory (export compressed-tensors instead)");
  }
  if (!weights.enabled || act.enabled) {
    Refuse(kFormat, scheme,
           "GGUF holds weight-only schemes (llama.cpp quantizes activations "
           "itself); use a wXa16 scheme");
  }
  if (weights.granularity != Granularity::kPerGroup ||
      weights.group_size != kGgufBlockSize) {
    Refuse(kFormat, scheme,
           "GGUF blocks hold 32 weights with one scale: use group size 32 "
           "(-g32)");
  }
  if (weights.bits == 4) return;  // Q4_0 or Q4_1.
  if (weights.bits == 8) {
    if (weights.symmetric) return;  // Q8_0.
    Refuse(kFormat, scheme,
           "8-bit blocks (Q8_0) are symmetric: set scheme.weights.symmetric");
  }
  Refuse(kFormat, scheme,
         "no GGUF block type has exactly " + std::to_string(weights.bits) +
             "-bit codes with one scale (Q4_0, Q4_1, Q8_0 are written)");
}

}  // namespace

std::span<const ExportFormatInfo> ExportFormats() { return kFormats; }

const ExportFormatInfo& InfoOf(ExportFormat format) {
  return kFormats[static_cast<size_t>(format)];
}

std::optional<ExportFormat> ParseExportFormat(std::string_view name) {
  std::string lower = Lower(name);
  if (lower.rfind("export_format_", 0) == 0) lower.erase(0, 14);
  std::replace(lower.begin(), lower.end(), '-', '_');
  for (const ExportFormatInfo& info : kFormats) {
    std::string proto = Lower(info.proto_name).substr(14);
    std::string cli = Lower(info.cli_name);
    std::replace(cli.begin(), cli.end(), '-', '_');
    if (lower == proto || lower == cli) return info.format;
  }
  return std::nullopt;
}

std::string ExportFormatCliNames() {
  std::string names;
  for (const ExportFormatInfo& info : kFormats) {
    if (!names.empty()) names += ", ";
    names += info.cli_name;
  }
  return names;
}

void CheckExportable(ExportFormat format, std::string_view scheme_name,
                     const TensorScheme& weights,
                     const TensorScheme& activations, const ModelFacts& model) {
  switch (format) {
    case ExportFormat::kHfSafetensors:
    case ExportFormat::kPackedInt:
      return;
    case ExportFormat::kCompressedTensors:
      return CheckCompressedTensors(scheme_name, weights, activations, model);
    case ExportFormat::kGguf:
      return CheckGguf(scheme_name, weights, activations, model);
  }
}

CompressedTensorsFormat CompressedTensorsFormatFor(
    const TensorScheme& activations) {
  return activations.enabled ? CompressedTensorsFormat::kIntQuantized
                             : CompressedTensorsFormat::kPackQuantized;
}

const char* CompressedTensorsFormatName(CompressedTensorsFormat format) {
  return format == CompressedTensorsFormat::kIntQuantized ? "int-quantized"
                                                          : "pack-quantized";
}

GgufType GgufTypeFor(const TensorScheme& weights) {
  if (weights.bits == 8) return GgufType::kQ8_0;
  return weights.symmetric ? GgufType::kQ4_0 : GgufType::kQ4_1;
}

const char* GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kQ4_0:
      return "Q4_0";
    case GgufType::kQ4_1:
      return "Q4_1";
    case GgufType::kQ8_0:
      return "Q8_0";
  }
  return "unknown";
}

}  // namespace quantd::contract
