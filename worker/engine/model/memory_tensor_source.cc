#include "worker/engine/model/memory_tensor_source.h"

#include "worker/engine/model/model_error.h"

namespace quantd::engine::model {

void MemoryTensorSource::Add(const std::string& name,
                             const at::Tensor& tensor) {
  tensors_[name] =
      tensor.detach().to(at::kCPU, at::kFloat).contiguous().clone();
  RebuildInfos();
}

void MemoryTensorSource::AddAll(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  for (const auto& [name, tensor] : tensors) {
    tensors_[name] =
        tensor.detach().to(at::kCPU, at::kFloat).contiguous().clone();
  }
  RebuildInfos();
}

void MemoryTensorSource::Remove(const std::string& name) {
  tensors_.erase(name);
  RebuildInfos();
}

bool MemoryTensorSource::Contains(std::string_view name) const {
  return tensors_.find(name) != tensors_.end();
}

at::Tensor MemoryTensorSource::LoadFloat(std::string_view name) const {
  auto found = tensors_.find(name);
  if (found == tensors_.end()) {
    throw ModelError(description_ + ": tensor '" + std::string(name) +
                     "': missing");
  }
  return found->second.clone();
}

void MemoryTensorSource::RebuildInfos() {
  infos_.clear();
  for (const auto& [name, tensor] : tensors_) {
    io::TensorInfo info;
    info.name = name;
    info.storage = io::StorageType::kF32;
    info.shape = tensor.sizes().vec();
    info.size_bytes = static_cast<uint64_t>(tensor.numel()) * sizeof(float);
    infos_.push_back(std::move(info));
  }
}

}  // namespace quantd::engine::model
