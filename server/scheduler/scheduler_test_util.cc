#include "server/scheduler/scheduler_test_util.h"

#include <unistd.h>

#include <atomic>
#include <fstream>

#include "gtest/gtest.h"

namespace quantd::scheduler::testing_util {
namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = fs::path(::testing::TempDir()) /
          ("scheduler_" + std::to_string(::getpid()) + "_" +
           std::to_string(counter++));
  fs::remove_all(path_);
  fs::create_directories(path_);
  path_ = fs::canonical(path_);
}

TempDir::~TempDir() { fs::remove_all(path_); }

void WriteFile(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  out << bytes;
}

void WriteHfModel(const fs::path& dir, uint64_t hidden_size,
                  uint64_t intermediate_size, uint64_t weight_bytes) {
  WriteFile(dir / "config.json",
            "{\"model_type\": \"llama\", \"hidden_size\": " +
                std::to_string(hidden_size) + ", \"intermediate_size\": " +
                std::to_string(intermediate_size) +
                ", \"num_hidden_layers\": 2, \"vocab_size\": 100}");
  WriteFile(dir / "model.safetensors", std::string(weight_bytes, '\0'));
}

namespace {

template <typename T>
void Append(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

void AppendString(std::string& out, const std::string& text) {
  Append<uint64_t>(out, text.size());
  out += text;
}

}  // namespace

GgufWriter& GgufWriter::U32(const std::string& key, uint32_t value) {
  std::string pair;
  AppendString(pair, key);
  Append<uint32_t>(pair, 4);
  Append<uint32_t>(pair, value);
  pairs_.push_back(pair);
  return *this;
}

GgufWriter& GgufWriter::Str(const std::string& key, const std::string& value) {
  std::string pair;
  AppendString(pair, key);
  Append<uint32_t>(pair, 8);
  AppendString(pair, value);
  pairs_.push_back(pair);
  return *this;
}

GgufWriter& GgufWriter::StrArray(const std::string& key,
                                 const std::vector<std::string>& values) {
  std::string pair;
  AppendString(pair, key);
  Append<uint32_t>(pair, 9);
  Append<uint32_t>(pair, 8);
  Append<uint64_t>(pair, values.size());
  for (const std::string& value : values) AppendString(pair, value);
  pairs_.push_back(pair);
  return *this;
}

std::string GgufWriter::Bytes(uint64_t tensor_count) const {
  std::string out = "GGUF";
  Append<uint32_t>(out, 3);
  Append<uint64_t>(out, tensor_count);
  Append<uint64_t>(out, pairs_.size());
  for (const std::string& pair : pairs_) out += pair;
  return out;
}

void GgufWriter::WriteTo(const fs::path& file) const {
  WriteFile(file, Bytes());
}

}  // namespace quantd::scheduler::testing_util
