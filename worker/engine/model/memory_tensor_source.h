// MemoryTensorSource: a TensorSource over tensors held in memory, by HF
// name. For tests (random models without files) and for methods that hand a
// transformed model on as a source (e.g. to evaluate or export it).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::model {

// Owns float32 CPU copies of its tensors. Add() is not thread-safe; the
// TensorSource methods are const and safe to call concurrently once filling
// is done.
class MemoryTensorSource : public io::TensorSource {
 public:
  explicit MemoryTensorSource(std::string description = "memory")
      : description_(std::move(description)) {}

  // Stores a float32, contiguous CPU copy of `tensor` under `name`,
  // replacing any tensor of that name.
  void Add(const std::string& name, const at::Tensor& tensor);
  // Every pair, e.g. the concatenation of Model::NamedTensors() and the
  // Block::NamedTensors() of all blocks.
  void AddAll(const std::vector<std::pair<std::string, at::Tensor>>& tensors);
  void Remove(const std::string& name);

  const std::vector<io::TensorInfo>& Tensors() const override { return infos_; }
  bool Contains(std::string_view name) const override;
  // A fresh copy, so a caller writing into it cannot change the source.
  // Throws ModelError for an unknown name.
  at::Tensor LoadFloat(std::string_view name) const override;
  std::string Describe() const override { return description_; }

 private:
  void RebuildInfos();

  std::string description_;
  std::map<std::string, at::Tensor, std::less<>> tensors_;
  std::vector<io::TensorInfo> infos_;  // In name order.
};

}  // namespace quantd::engine::model
