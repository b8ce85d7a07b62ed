// GgufExporter: a weight-only result as one GGUF v3 file that llama.cpp
// loads (`gguf/model.gguf`). The source is a LLaMA-family GGUF; its
// metadata is carried over whole (architecture, hyper-parameters,
// tokenizer with its pre-tokenizer type, chat template), with
// general.file_type set to the written type and quantd.method /
// quantd.scheme added. Each quantized Linear is written as the block type
// contract/export_format.h picks (Q4_0, Q4_1, Q8_0, 32 weights a block)
// from the codes the method chose, with no re-rounding of codes: for a
// group of 32 with codes q, zero point zp and scale Δ,
//   Q4_0  d = Δ,           stored q − zp + 8 ∈ [0, 15]
//   Q4_1  d = Δ, m = (lo − zp)·Δ, stored q − lo ∈ [0, 15]
//         (lo = −8 for a signed grid, 0 for an unsigned one)
//   Q8_0  d = Δ,           stored q − zp ∈ [−128, 127]
// d and m are float16 in GGUF, so Δ is rounded to the nearest half; the
// largest relative change is reported (Summary). q_proj/k_proj rows get
// llama.cpp's rotary permutation back. Every other tensor is float32 (the
// values the job evaluated); tensors without an HF counterpart
// (rope_freqs) are copied from the source as they are.
//
// The tensor directory is known from the source before any block, so the
// header is written first and the data streams after it: blocks must
// arrive in index order (the pipeline's), the residents at any time (held
// until the blocks are in). Not thread-safe.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "contract/export_format.h"
#include "worker/engine/export/atomic_file.h"
#include "worker/engine/export/packed_exporter.h"
#include "worker/engine/export/sharded_writer.h"
#include "worker/engine/io/gguf_file.h"
#include "worker/engine/io/model_config.h"

namespace quantd::engine::exporting {

struct GgufOptions {
  std::filesystem::path dir;     // "<out>/gguf"
  std::filesystem::path source;  // The source .gguf.
  contract::GgufType type = contract::GgufType::kQ4_1;
  std::string method;  // Recorded as quantd.method.
  std::string scheme;  // Recorded as quantd.scheme.
};

class GgufExporter {
 public:
  // Reads the source's metadata and tensor directory and writes the
  // header. Throws ExportError (not a GGUF, a tensor of unknown shape).
  GgufExporter(const io::ModelConfig& config, GgufOptions options);
  ~GgufExporter();

  // Throws ExportError: a block out of order, a Linear without codes that
  // fit the type.
  void AddBlock(int64_t index,
                const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                const std::vector<QuantizedLinear>& linears);
  void AddResident(
      const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  // Writes what is left and commits the file: {"model.gguf"}.
  std::vector<ShardFile> Finish();

  // {"type": "Q4_1", "scale_max_relative_rounding": ..., ...}.
  nlohmann::json Summary() const;

 private:
  struct Entry;
  void WriteEntry(const Entry& entry, const at::Tensor* tensor,
                  const QuantizedLinear* linear);
  void WriteResidentsIfReady();

  io::ModelConfig config_;
  GgufOptions options_;
  std::unique_ptr<io::GgufFile> source_;
  std::vector<Entry> entries_;  // In file order.
  size_t next_entry_ = 0;
  int64_t next_block_ = 0;
  std::vector<std::pair<std::string, at::Tensor>> residents_;
  bool residents_added_ = false;
  std::optional<AtomicFile> file_;
  uint64_t data_start_ = 0;
  double max_scale_rounding_ = 0.0;
  double max_weight_change_ = 0.0;
  int64_t quantized_tensors_ = 0;
};

// The bytes of one quantized weight [rows, cols] as GGUF blocks of `type`
// (rows of cols / 32 blocks) from its integer codes, per-group scales
// [rows, cols / 32] and zero points. `max_scale_rounding` and
// `max_weight_change` are raised to this tensor's largest relative change
// of a scale by float16 rounding and largest change of a weight. Throws
// ExportError naming `where` when a code does not fit the type.
std::vector<std::byte> EncodeGgufBlocks(
    contract::GgufType type, const at::Tensor& codes, const at::Tensor& scales,
    const at::Tensor& zero_points, int64_t qmin, const std::string& where,
    double& max_scale_rounding, double& max_weight_change);

}  // namespace quantd::engine::exporting
