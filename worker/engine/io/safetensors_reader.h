// SafetensorsReader: a TensorSource over one .safetensors file or over the
// shards a model.safetensors.index.json lists. Every header is validated in
// full when the reader opens (lengths, JSON, dtypes, shapes, offsets,
// overlaps, duplicates, shard consistency); tensor bytes stay in the mapped
// files until LoadFloat asks for them.
//
// Ownership: the reader owns the mappings of all its shards.
// Thread-safety: immutable after Open*, every method is safe to call
// concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "contract/mapped_file.h"
#include "worker/engine/io/tensor_source.h"

namespace quantd::engine::io {

using contract::MappedFile;

class SafetensorsReader : public TensorSource {
 public:
  // Opens one .safetensors file. Throws FormatError.
  static std::unique_ptr<SafetensorsReader> OpenFile(
      const std::filesystem::path& path);
  // Opens model.safetensors.index.json and every shard it names (shard
  // names resolve relative to the index's directory). Throws FormatError.
  static std::unique_ptr<SafetensorsReader> OpenIndex(
      const std::filesystem::path& index_path);

  // Tensors in file order: shards in name order, then by data offset.
  const std::vector<TensorInfo>& Tensors() const override { return tensors_; }
  bool Contains(std::string_view name) const override;
  at::Tensor LoadFloat(std::string_view name) const override;
  std::string Describe() const override;

  // The stored bytes of a tensor, valid while the reader lives. Throws
  // FormatError for an unknown name.
  std::span<const std::byte> RawBytes(std::string_view name) const;
  // The shard file that holds a tensor.
  const std::filesystem::path& FileOf(std::string_view name) const;
  // The "__metadata__" string map (of every shard; the first shard wins a
  // key stored twice).
  const std::map<std::string, std::string>& metadata() const {
    return metadata_;
  }

 private:
  struct Shard {
    MappedFile file;
    uint64_t data_start = 0;  // Offset of the data section in the file.
  };
  struct Entry {
    size_t shard = 0;
    size_t info = 0;  // Index into tensors_.
    uint64_t begin = 0;
    uint64_t end = 0;
  };

  explicit SafetensorsReader(std::filesystem::path origin)
      : origin_(std::move(origin)) {}
  // Parses and validates one shard, appending its tensors.
  void AddShard(const std::filesystem::path& path);
  const Entry& Find(std::string_view name) const;

  std::filesystem::path origin_;  // The .safetensors or index.json opened.
  std::vector<Shard> shards_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace quantd::engine::io
