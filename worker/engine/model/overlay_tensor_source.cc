#include "worker/engine/model/overlay_tensor_source.h"

#include "worker/engine/model/model_error.h"

namespace quantd::engine::model {

void OverlayTensorSource::Put(Entry entry) {
  const std::string name = entry.info.name;
  entries_[name] = std::move(entry);
  infos_.clear();
  for (const auto& [key, value] : entries_) infos_.push_back(value.info);
}

void OverlayTensorSource::AddSource(
    std::shared_ptr<const io::TensorSource> source) {
  for (const io::TensorInfo& info : source->Tensors()) {
    Put({source.get(), at::Tensor(), info});
  }
  sources_.push_back(std::move(source));
}

void OverlayTensorSource::AddShared(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  for (const auto& [name, tensor] : tensors) {
    io::TensorInfo info;
    info.name = name;
    info.storage = io::StorageType::kF32;
    info.shape = tensor.sizes().vec();
    info.size_bytes = static_cast<uint64_t>(tensor.numel()) * sizeof(float);
    Put({nullptr, tensor.detach(), std::move(info)});
  }
}

bool OverlayTensorSource::Contains(std::string_view name) const {
  return entries_.find(name) != entries_.end();
}

at::Tensor OverlayTensorSource::LoadFloat(std::string_view name) const {
  auto found = entries_.find(name);
  if (found == entries_.end()) {
    throw ModelError(description_ + ": tensor '" + std::string(name) +
                     "': missing");
  }
  const Entry& entry = found->second;
  if (entry.source == nullptr) return entry.shared;
  return entry.source->LoadFloat(name);
}

}  // namespace quantd::engine::model
