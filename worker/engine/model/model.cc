#include "worker/engine/model/model.h"

#include <string>

#include "worker/engine/model/model_error.h"

namespace quantd::engine::model {

Model::Model(io::ModelConfig config,
             std::shared_ptr<const io::TensorSource> source,
             ModelOptions options)
    : config_(std::move(config)),
      source_(std::move(source)),
      options_(options) {
  if (source_ == nullptr) throw ModelError("model: no tensor source");
}

at::Tensor Model::RunBlocks(at::Tensor hidden, const ForwardContext& context,
                            const BlockPreparer& prepare) const {
  for (int64_t i = 0; i < NumBlocks(); ++i) {
    std::unique_ptr<Block> block = LoadBlock(i);
    if (prepare) prepare(*block);
    hidden = block->Forward(hidden, context);
  }
  return hidden;
}

at::Tensor Model::Forward(const at::Tensor& ids, const at::Tensor& token_mask,
                          const BlockPreparer& prepare) const {
  ForwardContext context = MakeContext(ids, token_mask);
  at::Tensor hidden = RunBlocks(Embed(ids, context), context, prepare);
  return Head(hidden, context);
}

std::vector<std::pair<std::string, at::Tensor>> Model::NamedTensors() const {
  return resident_;
}

at::Tensor& Model::Resident(const std::string& name) {
  for (auto& [resident_name, tensor] : resident_) {
    if (resident_name == name) return tensor;
  }
  throw ModelError(source_->Describe() + ": '" + name +
                   "' is not a resident tensor");
}

const at::Tensor& Model::Resident(const std::string& name) const {
  return const_cast<Model*>(this)->Resident(name);
}

void Model::AddResident(std::string name, at::Tensor tensor) {
  resident_.emplace_back(std::move(name), std::move(tensor));
}

bool Model::HasResident(const std::string& name) const {
  for (const auto& [resident_name, tensor] : resident_) {
    if (resident_name == name) return true;
  }
  return false;
}

void Model::CheckIds(const at::Tensor& ids, int64_t vocab_size) const {
  if (ids.dim() != 2 || ids.scalar_type() != at::kLong) {
    throw ModelError(source_->Describe() +
                     ": token ids must be int64 [batch, tokens], got " +
                     std::to_string(ids.dim()) + "-d " +
                     std::string(ids.dtype().name()));
  }
  if (ids.numel() == 0) return;
  int64_t low = ids.min().item<int64_t>();
  int64_t high = ids.max().item<int64_t>();
  if (low < 0 || high >= vocab_size) {
    throw ModelError(source_->Describe() + ": token id " +
                     std::to_string(low < 0 ? low : high) +
                     " outside the vocabulary [0, " +
                     std::to_string(vocab_size) + ")");
  }
}

}  // namespace quantd::engine::model
