// OverlayTensorSource: one TensorSource made of layers, each name served by
// the last layer added that has it. A layer is another TensorSource (read
// lazily, as that source reads) or a set of tensors shared with a live
// model. The pipeline builds the quantized model this way: the original
// model's resident tensors (embedding, final norm, head) shared with the FP
// model, under the finished blocks' checkpoint files read block by block,
// so evaluating it keeps no second copy of the model in memory.
//
// Shared tensors come back from LoadFloat as the same handle, not a copy
// (and on the device they live on): only for consumers that never write
// into a loaded tensor, such as Model construction.
//
// Add*() is not thread-safe; the TensorSource methods are const and safe to
// call concurrently once the layers are in place.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::model {

class OverlayTensorSource : public io::TensorSource {
 public:
  explicit OverlayTensorSource(std::string description)
      : description_(std::move(description)) {}

  void AddSource(std::shared_ptr<const io::TensorSource> source);
  void AddShared(
      const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  const std::vector<io::TensorInfo>& Tensors() const override { return infos_; }
  bool Contains(std::string_view name) const override;
  // Throws ModelError for an unknown name; whatever the layer's source
  // throws otherwise.
  at::Tensor LoadFloat(std::string_view name) const override;
  std::string Describe() const override { return description_; }

 private:
  struct Entry {
    const io::TensorSource* source = nullptr;  // Null: `shared`.
    at::Tensor shared;
    io::TensorInfo info;
  };
  void Put(Entry entry);

  std::string description_;
  std::vector<std::shared_ptr<const io::TensorSource>> sources_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<io::TensorInfo> infos_;  // In name order.
};

}  // namespace quantd::engine::model
