#include "worker/engine/io/io_test_util.h"

#include <ftw.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace quantd::engine::io::testing {

TempDir::TempDir() {
  std::random_device random;
  const char* tmpdir = std::getenv("TMPDIR");
  const std::filesystem::path base =
      tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  for (int attempt = 0; attempt < 100; ++attempt) {
    path_ = base / ("quantd_io_test_" + std::to_string(random()));
    if (::mkdir(path_.c_str(), 0700) == 0) return;
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  // POSIX rather than std::filesystem::remove_all: libtorch.so exports its
  // own copy of remove_all, which crashes when it wins symbol resolution.
  ::nftw(
      path_.c_str(),
      [](const char* file, const struct stat*, int, struct FTW*) {
        return ::remove(file);
      },
      16, FTW_DEPTH | FTW_PHYS);
}

std::filesystem::path TempDir::Write(const std::string& name,
                                     std::string_view bytes) const {
  const std::filesystem::path file = path_ / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
  return file;
}

std::filesystem::path SourceDir() {
  const char* dir = std::getenv("QUANTD_SOURCE_DIR");
  if (dir == nullptr || *dir == '\0') {
    throw std::runtime_error("QUANTD_SOURCE_DIR is not set (run via ctest)");
  }
  return dir;
}

nlohmann::json ReadJsonFixture(const std::string& name) {
  const auto path = SourceDir() / "tests" / "fixtures" / "io" / name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path.string());
  return nlohmann::json::parse(in);
}

std::string Floats(const std::vector<float>& values) {
  std::string bytes;
  for (float value : values) bytes += Bytes(value);
  return bytes;
}

std::string SafetensorsBytes(std::string_view header, std::string_view data) {
  return Bytes<uint64_t>(header.size()) + std::string(header) +
         std::string(data);
}

SafetensorsBuilder& SafetensorsBuilder::Add(std::string name, std::string dtype,
                                            std::vector<int64_t> shape,
                                            std::string data) {
  header_[name] = {
      {"dtype", dtype},
      {"shape", shape},
      {"data_offsets", {data_.size(), data_.size() + data.size()}}};
  data_ += data;
  return *this;
}

std::string SafetensorsBuilder::Build() const {
  return SafetensorsBytes(header_.dump(), data_);
}

std::string GgufString(std::string_view text) {
  return Bytes<uint64_t>(text.size()) + std::string(text);
}

GgufBuilder& GgufBuilder::Version(uint32_t version) {
  version_ = version;
  return *this;
}

GgufBuilder& GgufBuilder::Alignment(uint32_t alignment) {
  alignment_ = alignment;
  return Uint32("general.alignment", alignment);
}

GgufBuilder& GgufBuilder::KeyValue(std::string_view key, uint32_t type,
                                   std::string value) {
  key_values_ += GgufString(key) + Bytes(type) + value;
  ++key_value_count_;
  return *this;
}

GgufBuilder& GgufBuilder::Uint32(std::string_view key, uint32_t value) {
  return KeyValue(key, kGgufUint32, Bytes(value));
}

GgufBuilder& GgufBuilder::Float32(std::string_view key, float value) {
  return KeyValue(key, kGgufFloat32, Bytes(value));
}

GgufBuilder& GgufBuilder::String(std::string_view key, std::string_view value) {
  return KeyValue(key, kGgufString, GgufString(value));
}

GgufBuilder& GgufBuilder::Bool(std::string_view key, bool value) {
  return KeyValue(key, kGgufBool, Bytes<uint8_t>(value ? 1 : 0));
}

GgufBuilder& GgufBuilder::StringArray(std::string_view key,
                                      const std::vector<std::string>& values) {
  std::string encoded = Bytes(kGgufString) + Bytes<uint64_t>(values.size());
  for (const std::string& value : values) encoded += GgufString(value);
  return KeyValue(key, kGgufArray, encoded);
}

GgufBuilder& GgufBuilder::Int32Array(std::string_view key,
                                     const std::vector<int32_t>& values) {
  std::string encoded = Bytes(kGgufInt32) + Bytes<uint64_t>(values.size());
  for (int32_t value : values) encoded += Bytes(value);
  return KeyValue(key, kGgufArray, encoded);
}

GgufBuilder& GgufBuilder::Tensor(std::string name, std::vector<int64_t> dims,
                                 uint32_t ggml_type, std::string data,
                                 std::optional<uint64_t> offset) {
  tensors_.push_back(
      {std::move(name), std::move(dims), ggml_type, std::move(data), offset});
  return *this;
}

GgufBuilder& GgufBuilder::TensorCount(uint64_t count) {
  tensor_count_override_ = count;
  return *this;
}

GgufBuilder& GgufBuilder::MetadataCount(uint64_t count) {
  metadata_count_override_ = count;
  return *this;
}

std::string GgufBuilder::Build() const {
  auto pad = [&](std::string& bytes) {
    while (bytes.size() % alignment_ != 0) bytes.push_back('\0');
  };
  std::string data;
  std::string infos;
  for (const TensorEntry& tensor : tensors_) {
    pad(data);
    const uint64_t offset = tensor.offset.value_or(data.size());
    infos += GgufString(tensor.name) +
             Bytes<uint32_t>(static_cast<uint32_t>(tensor.dims.size()));
    for (int64_t dim : tensor.dims) infos += Bytes(dim);
    infos += Bytes(tensor.type) + Bytes(offset);
    data += tensor.data;
  }
  std::string file =
      "GGUF" + Bytes(version_) +
      Bytes(tensor_count_override_.value_or(tensors_.size())) +
      Bytes(metadata_count_override_.value_or(key_value_count_)) + key_values_ +
      infos;
  pad(file);
  return file + data;
}

}  // namespace quantd::engine::io::testing
