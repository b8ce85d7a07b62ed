// Test helpers for the io tests: a temporary directory, the repository
// root, JSON fixtures, and byte-level builders for safetensors and GGUF
// files so tests can write exactly the (valid or broken) file they need.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantd::engine::io::testing {

// A fresh directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `bytes` to path()/name and returns the full path.
  std::filesystem::path Write(const std::string& name,
                              std::string_view bytes) const;

 private:
  std::filesystem::path path_;
};

// $QUANTD_SOURCE_DIR (set by quantd_add_test); throws when unset.
std::filesystem::path SourceDir();
nlohmann::json ReadJsonFixture(const std::string& name_under_fixtures_io);

// Little-endian bytes of a trivially copyable value.
template <typename T>
std::string Bytes(T value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}
std::string Floats(const std::vector<float>& values);

// A .safetensors file: 8-byte header length, header text, data.
std::string SafetensorsBytes(std::string_view header, std::string_view data);

// Builds a valid .safetensors from tensors given in order (contiguous
// offsets).
class SafetensorsBuilder {
 public:
  SafetensorsBuilder& Add(std::string name, std::string dtype,
                          std::vector<int64_t> shape, std::string data);
  std::string Build() const;

 private:
  nlohmann::ordered_json header_ = nlohmann::ordered_json::object();
  std::string data_;
};

// GGUF value type numbers (see gguf_metadata.h).
enum : uint32_t {
  kGgufUint32 = 4,
  kGgufInt32 = 5,
  kGgufFloat32 = 6,
  kGgufBool = 7,
  kGgufString = 8,
  kGgufArray = 9
};
// ggml type numbers.
enum : uint32_t {
  kGgmlF32 = 0,
  kGgmlF16 = 1,
  kGgmlQ4_0 = 2,
  kGgmlQ4_1 = 3,
  kGgmlQ8_0 = 8,
  kGgmlQ4_K = 12,
  kGgmlQ6_K = 14,
  kGgmlBF16 = 30
};

std::string GgufString(std::string_view text);

// Builds a GGUF file; by default valid (counts, alignment and offsets
// computed), with knobs to break it.
class GgufBuilder {
 public:
  GgufBuilder& Version(uint32_t version);
  GgufBuilder& Alignment(uint32_t alignment);  // Also writes the KV.
  // `value` is the encoded value (see Bytes/GgufString).
  GgufBuilder& KeyValue(std::string_view key, uint32_t type, std::string value);
  GgufBuilder& Uint32(std::string_view key, uint32_t value);
  GgufBuilder& Float32(std::string_view key, float value);
  GgufBuilder& String(std::string_view key, std::string_view value);
  GgufBuilder& Bool(std::string_view key, bool value);
  GgufBuilder& StringArray(std::string_view key,
                           const std::vector<std::string>& values);
  GgufBuilder& Int32Array(std::string_view key,
                          const std::vector<int32_t>& values);
  // `dims` innermost first, as GGUF stores them. `offset` overrides the
  // computed (aligned, consecutive) offset.
  GgufBuilder& Tensor(std::string name, std::vector<int64_t> dims,
                      uint32_t ggml_type, std::string data,
                      std::optional<uint64_t> offset = std::nullopt);
  GgufBuilder& TensorCount(uint64_t count);
  GgufBuilder& MetadataCount(uint64_t count);
  std::string Build() const;

 private:
  struct TensorEntry {
    std::string name;
    std::vector<int64_t> dims;
    uint32_t type;
    std::string data;
    std::optional<uint64_t> offset;
  };
  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  std::string key_values_;
  uint64_t key_value_count_ = 0;
  std::vector<TensorEntry> tensors_;
  std::optional<uint64_t> tensor_count_override_;
  std::optional<uint64_t> metadata_count_override_;
};

}  // namespace quantd::engine::io::testing
