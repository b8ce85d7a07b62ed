// Helpers shared by the export tests: scratch directories, file reading,
// and a tiny LLaMA whose blocks are quantized with a mix of weight
// configurations (every bit width class, grid and granularity the packed
// format distinguishes), a static activation quantizer with an input
// transform, a dynamic one, and synthetic channel ranges.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/export/exporter.h"
#include "worker/engine/model/memory_tensor_source.h"
#include "worker/engine/model/model.h"
#include "worker/engine/quant/qparams.h"
#include "worker/engine/quant/quant_config.h"

namespace quantd::engine::exporting::testing {

std::filesystem::path SourceDir();
// A fresh directory under the system temp dir, unique to this process.
std::filesystem::path ScratchDir(const std::string& name);
// rm -rf (std::filesystem::remove_all crashes in binaries linking libtorch).
void RemoveScratch(const std::filesystem::path& dir);
std::string ReadFile(const std::filesystem::path& path);

struct FakeQuantized {
  at::Tensor weight;  // Fake-quantized, float32.
  quant::QParams qparams;
};
// Static MinMax quantization of a weight [out, in] with `config`.
FakeQuantized FakeQuantizeWeight(const at::Tensor& weight,
                                 const quant::QuantConfig& config);

// The weight config the tiny LLaMA block uses for a block-relative linear
// name ("self_attn.q_proj", ...).
quant::QuantConfig TinyWeightConfig(const std::string& linear);

// The tiny LLaMA of model/test_models.h (seed 7) and its model.
struct TinyModel {
  std::shared_ptr<model::MemoryTensorSource> source;
  std::unique_ptr<model::Model> model;
};
TinyModel MakeTinyLlama();

// Block `index` of `model` quantized with TinyWeightConfig: tensors hold
// the fake-quantized weights; with `with_fp`, fp_tensors hold the
// unquantized ones.
BlockExport QuantizeTinyBlock(const model::Model& model, int64_t index,
                              bool with_fp = false);

// The model the blocks above compute: residents plus fake-quantized blocks.
std::unique_ptr<model::Model> QuantizedTinyModel(const model::Model& model);

// A JobInfo for the tiny model (GGUF-like source: no config.json).
JobInfo TinyJob(const model::Model& model);

}  // namespace quantd::engine::exporting::testing
