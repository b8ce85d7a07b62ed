// Fixtures shared by the scheduler's unit tests: temporary directories,
// tiny model directories and GGUF files written on the fly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace quantd::scheduler::testing_util {

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes config.json (with the given hidden and intermediate sizes) and a
// weights file of `weight_bytes` into `dir`.
void WriteHfModel(const std::filesystem::path& dir, uint64_t hidden_size,
                  uint64_t intermediate_size, uint64_t weight_bytes = 1024);

// GGUF header builder: key/value pairs of a few types.
class GgufWriter {
 public:
  GgufWriter& U32(const std::string& key, uint32_t value);
  GgufWriter& Str(const std::string& key, const std::string& value);
  GgufWriter& StrArray(const std::string& key,
                       const std::vector<std::string>& values);
  // The file bytes: magic, version 3, `tensor_count`, the pairs.
  std::string Bytes(uint64_t tensor_count = 0) const;
  void WriteTo(const std::filesystem::path& file) const;

 private:
  std::vector<std::string> pairs_;
};

void WriteFile(const std::filesystem::path& file, const std::string& bytes);

}  // namespace quantd::scheduler::testing_util
