#include "worker/engine/io/gguf_reader.h"

#include <utility>

#include "worker/engine/io/format_error.h"

namespace quantd::engine::io {

std::unique_ptr<GgufReader> GgufReader::Open(
    const std::filesystem::path& path) {
  auto file = std::make_unique<GgufFile>(path);
  const std::string architecture =
      file->metadata().GetString("general.architecture");
  if (architecture != "llama") {
    throw FormatError::ForField(path, "general.architecture",
                                "unsupported GGUF architecture '" +
                                    architecture + "' (supported: llama)");
  }
  std::unique_ptr<GgufReader> reader(new GgufReader(std::move(file)));
  reader->MapTensors();
  return reader;
}

GgufReader::GgufReader(std::unique_ptr<GgufFile> file)
    : file_(std::move(file)) {
  const GgufMetadata& metadata = file_->metadata();
  head_count_ = metadata.FindInt("llama.attention.head_count").value_or(0);
  kv_head_count_ =
      metadata.FindInt("llama.attention.head_count_kv").value_or(head_count_);
}

void GgufReader::CheckPermutable(const GgufTensorInfo& stored,
                                 int64_t head_count,
                                 const char* head_count_key) const {
  if (head_count <= 0) {
    throw FormatError::ForTensor(file_->path(), stored.name,
                                 std::string("needs a positive ") +
                                     head_count_key +
                                     " to undo the rotary permutation");
  }
  const int64_t rows = stored.shape[0];
  if (rows % (2 * head_count) != 0) {
    throw FormatError::ForTensor(
        file_->path(), stored.name,
        std::to_string(rows) + " rows do not split into " +
            std::to_string(head_count) + " heads of an even size");
  }
}

void GgufReader::MapTensors() {
  for (const GgufTensorInfo& stored : file_->tensors()) {
    auto hf = LlamaHfName(stored.name);
    HfTensorName mapped = hf ? *hf : HfTensorName{stored.name};
    if (mapped.permutation == RowPermutation::kQuery) {
      CheckPermutable(stored, head_count_, "llama.attention.head_count");
    } else if (mapped.permutation == RowPermutation::kKey) {
      CheckPermutable(stored, kv_head_count_, "llama.attention.head_count_kv");
    }
    if (entries_.contains(mapped.name)) {
      throw FormatError::ForTensor(
          file_->path(), stored.name,
          "maps to '" + mapped.name + "', which another tensor already has");
    }
    entries_.emplace(mapped.name, Entry{&stored, mapped.permutation});
    tensors_.push_back(TensorInfo{mapped.name, stored.storage, stored.shape,
                                  stored.size_bytes});
  }
}

bool GgufReader::Contains(std::string_view name) const {
  return entries_.find(name) != entries_.end();
}

const GgufReader::Entry& GgufReader::Find(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    throw FormatError::ForTensor(file_->path(), std::string(name),
                                 "no such tensor");
  }
  return it->second;
}

const GgufTensorInfo& GgufReader::StoredTensor(std::string_view name) const {
  return *Find(name).stored;
}

at::Tensor GgufReader::LoadFloat(std::string_view name) const {
  const Entry& entry = Find(name);
  at::Tensor tensor = file_->LoadFloat(*entry.stored);
  switch (entry.permutation) {
    case RowPermutation::kQuery:
      return UndoRotaryPermutation(tensor, head_count_);
    case RowPermutation::kKey:
      return UndoRotaryPermutation(tensor, kv_head_count_);
    case RowPermutation::kNone:
      break;
  }
  return tensor;
}

std::string GgufReader::Describe() const { return file_->path().string(); }

}  // namespace quantd::engine::io
