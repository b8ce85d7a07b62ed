// Model: one architecture's forward pass, split so that a pipeline can run
// it block by block with bounded memory:
//
//   ForwardContext context = model.MakeContext(ids, token_mask);
//   at::Tensor hidden = model.Embed(ids, context);          // [B, T, C]
//   for (int64_t i = 0; i < model.NumBlocks(); ++i) {
//     std::unique_ptr<Block> block = model.LoadBlock(i);    // owns weights
//     hidden = block->Forward(hidden, context);
//   }
//   at::Tensor out = model.Head(hidden, context);
//
// Only the resident tensors (embedding, final norm, head) stay loaded; a
// block is read from the TensorSource when asked for and freed with it.
//
// Ownership: the Model shares the TensorSource (it must outlive every block
// loaded from it, which shared ownership guarantees) and owns its resident
// tensors. Thread-safety: the const methods may run concurrently; Resident()
// hands out a mutable tensor and is not synchronised.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "worker/engine/io/model_config.h"
#include "worker/engine/io/tensor_source.h"
#include "worker/engine/model/block.h"
#include "worker/engine/model/forward_context.h"

namespace quantd::engine::model {

struct ModelOptions {
  // Where weights live and the forward runs. Default CPU.
  at::Device device = at::kCPU;
  // Fused scaled-dot-product attention (true, default) or the explicit
  // softmax(QKᵀ)V of HF's eager path (for bit-level comparisons).
  bool fused_attention = true;
  // Encoders: L2-normalise the pooled embedding (sentence-transformers'
  // Normalize module). Default false; cosine similarity ignores it.
  bool normalize_embeddings = false;
  // The dtype of the blocks' Linear products: kFloat (the reference path,
  // default) or kBFloat16 (inputs and weights rounded to bfloat16, float32
  // accumulation, the product back in float32). Norms, attention, the
  // residual stream, the LM head (its logits feed the loss directly) and
  // the loss stay float32. A speed option for evaluation; methods search
  // and calibrate in float32.
  at::ScalarType matmul_dtype = at::kFloat;
};

// What Head returns.
enum class OutputKind {
  kLogits,     // Decoders: [B, T, vocab]. Head is per token, so a caller may
               // pass any slice of tokens [B, T', C] to bound memory.
  kEmbedding,  // Encoders: mean-pooled embedding over real tokens, [B, C].
};

class Model {
 public:
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const io::ModelConfig& config() const { return config_; }
  const io::TensorSource& source() const { return *source_; }
  const ModelOptions& options() const { return options_; }
  int64_t NumBlocks() const { return config_.num_layers; }
  virtual OutputKind output_kind() const = 0;

  // The context of a batch of token ids [B, T] (int64, any device) with an
  // optional [B, T] mask (nonzero = real token). Throws ModelError when T
  // exceeds what the position embedding covers.
  virtual ForwardContext MakeContext(
      const at::Tensor& ids, const at::Tensor& token_mask = {}) const = 0;
  // ids [B, T] -> hidden [B, T, C] on the model's device. Throws ModelError
  // for an id outside the vocabulary.
  virtual at::Tensor Embed(const at::Tensor& ids,
                           const ForwardContext& context) const = 0;
  // Loads block `index` (0-based) from the source. Throws ModelError (or
  // io::FormatError) when its tensors are missing or malformed.
  virtual std::unique_ptr<Block> LoadBlock(int64_t index) const = 0;
  // hidden after the last block -> OutputKind.
  virtual at::Tensor Head(const at::Tensor& hidden,
                          const ForwardContext& context) const = 0;

  // Called on each block after it is loaded and before it runs: where a
  // method installs its hooks or replaces weights.
  using BlockPreparer = std::function<void(Block&)>;

  // hidden through every block in turn, each loaded, prepared, run and
  // freed before the next is loaded: the whole batch passes block 0, then
  // block 1, ..., so only one block is ever resident.
  at::Tensor RunBlocks(at::Tensor hidden, const ForwardContext& context,
                       const BlockPreparer& prepare = {}) const;
  // MakeContext, Embed, RunBlocks, Head: the convenience path for tests and
  // small inputs.
  at::Tensor Forward(const at::Tensor& ids, const at::Tensor& token_mask = {},
                     const BlockPreparer& prepare = {}) const;

  // The resident tensors under their HF names (a tied head appears once, as
  // the embedding). Shared, not copied.
  std::vector<std::pair<std::string, at::Tensor>> NamedTensors() const;
  // One resident tensor, for methods that transform it (e.g. an embedding
  // norm). Throws ModelError for a name that is not resident.
  at::Tensor& Resident(const std::string& name);
  const at::Tensor& Resident(const std::string& name) const;

 protected:
  Model(io::ModelConfig config, std::shared_ptr<const io::TensorSource> source,
        ModelOptions options);

  void AddResident(std::string name, at::Tensor tensor);
  bool HasResident(const std::string& name) const;
  // Throws ModelError unless every id in `ids` is in [0, vocab_size).
  void CheckIds(const at::Tensor& ids, int64_t vocab_size) const;

 private:
  io::ModelConfig config_;
  std::shared_ptr<const io::TensorSource> source_;
  ModelOptions options_;
  std::vector<std::pair<std::string, at::Tensor>> resident_;
};

}  // namespace quantd::engine::model
