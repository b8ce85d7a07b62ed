#include "worker/engine/io/safetensors_reader.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <utility>

#include "worker/engine/io/checked_math.h"
#include "worker/engine/io/format_error.h"
#include "worker/engine/io/json_util.h"
#include "worker/engine/io/tensor_decode.h"

namespace quantd::engine::io {
namespace {

using nlohmann::json;

// The reference implementation refuses larger headers too.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr size_t kMaxRank = 16;

struct ParsedTensor {
  std::string name;
  StorageType storage = StorageType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

std::optional<StorageType> DtypeFromName(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, StorageType>, 10>
      kDtypes = {{{"F32", StorageType::kF32},
                  {"F16", StorageType::kF16},
                  {"BF16", StorageType::kBF16},
                  {"F64", StorageType::kF64},
                  {"I8", StorageType::kI8},
                  {"U8", StorageType::kU8},
                  {"I16", StorageType::kI16},
                  {"I32", StorageType::kI32},
                  {"I64", StorageType::kI64},
                  {"BOOL", StorageType::kBool}}};
  for (const auto& [text, type] : kDtypes) {
    if (text == name) return type;
  }
  return std::nullopt;
}

uint64_t ReadHeaderLength(const MappedFile& file) {
  const uint64_t size = file.size_bytes();
  if (size < 8) {
    throw FormatError::ForFile(
        file.path(), "truncated: " + std::to_string(size) +
                         " bytes, too short for the 8-byte header length");
  }
  uint64_t length = 0;
  std::memcpy(&length, file.data().data(), sizeof(length));
  if (length > size - 8) {
    throw FormatError::ForFile(file.path(),
                               "header length " + std::to_string(length) +
                                   " runs past the end of the file (" +
                                   std::to_string(size) + " bytes)");
  }
  if (length > kMaxHeaderBytes) {
    throw FormatError::ForFile(file.path(),
                               "header length " + std::to_string(length) +
                                   " exceeds the limit of " +
                                   std::to_string(kMaxHeaderBytes) + " bytes");
  }
  return length;
}

// A non-negative integer that fits int64, or nullopt.
std::optional<int64_t> NonNegativeInteger(const json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return value.get<int64_t>();
  }
  return std::nullopt;
}

const json& Member(const std::filesystem::path& path, const std::string& name,
                   const json& entry, const char* key) {
  auto it = entry.find(key);
  if (it == entry.end()) {
    throw FormatError::ForTensor(path, name,
                                 std::string("missing '") + key + "'");
  }
  return *it;
}

StorageType ParseDtype(const std::filesystem::path& path,
                       const std::string& name, const json& entry) {
  const json& dtype = Member(path, name, entry, "dtype");
  if (!dtype.is_string()) {
    throw FormatError::ForTensor(
        path, name,
        "dtype must be a string, got " + internal::JsonTypeName(dtype));
  }
  auto type = DtypeFromName(dtype.get<std::string>());
  if (!type) {
    throw FormatError::ForTensor(
        path, name,
        "unsupported dtype '" + dtype.get<std::string>() +
            "' (supported: F32 F16 BF16 F64 I8 U8 I16 I32 I64 BOOL)");
  }
  return *type;
}

std::vector<int64_t> ParseShape(const std::filesystem::path& path,
                                const std::string& name, const json& entry) {
  const json& shape = Member(path, name, entry, "shape");
  if (!shape.is_array()) {
    throw FormatError::ForTensor(path, name, "shape is not an array");
  }
  if (shape.size() > kMaxRank) {
    throw FormatError::ForTensor(path, name,
                                 "shape has " + std::to_string(shape.size()) +
                                     " dimensions, more than " +
                                     std::to_string(kMaxRank));
  }
  std::vector<int64_t> dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    auto dim = NonNegativeInteger(shape[i]);
    if (!dim) {
      throw FormatError::ForTensor(path, name,
                                   "shape[" + std::to_string(i) +
                                       "] = " + shape[i].dump() +
                                       " is not a non-negative integer");
    }
    dims.push_back(*dim);
  }
  if (!internal::CheckedNumel(dims)) {
    throw FormatError::ForTensor(path, name, "shape product overflows");
  }
  return dims;
}

std::pair<uint64_t, uint64_t> ParseOffsets(const std::filesystem::path& path,
                                           const std::string& name,
                                           const json& entry) {
  const json& offsets = Member(path, name, entry, "data_offsets");
  if (!offsets.is_array() || offsets.size() != 2) {
    throw FormatError::ForTensor(path, name,
                                 "data_offsets is not a [begin, end] pair");
  }
  auto begin = NonNegativeInteger(offsets[0]);
  auto end = NonNegativeInteger(offsets[1]);
  if (!begin || !end) {
    throw FormatError::ForTensor(
        path, name,
        "data_offsets " + offsets.dump() + " are not non-negative integers");
  }
  if (*end < *begin) {
    throw FormatError::ForTensor(
        path, name,
        "data_offsets " + offsets.dump() + " end before they begin");
  }
  return {static_cast<uint64_t>(*begin), static_cast<uint64_t>(*end)};
}

ParsedTensor ParseEntry(const std::filesystem::path& path,
                        const std::string& name, const json& entry,
                        uint64_t data_size) {
  if (name.empty()) throw FormatError::ForFile(path, "empty tensor name");
  if (!entry.is_object()) {
    throw FormatError::ForTensor(
        path, name,
        "header entry must be an object, got " + internal::JsonTypeName(entry));
  }
  ParsedTensor tensor{name, ParseDtype(path, name, entry),
                      ParseShape(path, name, entry), 0, 0};
  std::tie(tensor.begin, tensor.end) = ParseOffsets(path, name, entry);
  const int64_t expected =
      StorageSizeBytes(tensor.storage, *internal::CheckedNumel(tensor.shape));
  if (expected < 0) {
    throw FormatError::ForTensor(path, name, "byte size overflows");
  }
  if (tensor.end - tensor.begin != static_cast<uint64_t>(expected)) {
    throw FormatError::ForTensor(
        path, name,
        "data_offsets span " + std::to_string(tensor.end - tensor.begin) +
            " bytes but dtype and shape need " + std::to_string(expected));
  }
  if (tensor.end > data_size) {
    throw FormatError::ForTensor(
        path, name,
        "data_offsets [" + std::to_string(tensor.begin) + ", " +
            std::to_string(tensor.end) + "] run past the data section (" +
            std::to_string(data_size) + " bytes)");
  }
  return tensor;
}

// Sorts by offset and rejects byte ranges shared by two tensors.
void SortAndCheckOverlap(const std::filesystem::path& path,
                         std::vector<ParsedTensor>& tensors) {
  std::sort(tensors.begin(), tensors.end(),
            [](const ParsedTensor& a, const ParsedTensor& b) {
              return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
            });
  const ParsedTensor* previous = nullptr;
  for (const ParsedTensor& tensor : tensors) {
    if (tensor.begin == tensor.end) continue;
    if (previous != nullptr && tensor.begin < previous->end) {
      throw FormatError::ForTensor(
          path, tensor.name, "data overlaps tensor '" + previous->name + "'");
    }
    previous = &tensor;
  }
}

void CheckMetadata(const std::filesystem::path& path, const json& metadata) {
  if (!metadata.is_object()) {
    throw FormatError::ForField(path, "__metadata__", "is not an object");
  }
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string()) {
      throw FormatError::ForField(path, "__metadata__." + key,
                                  "is not a string");
    }
  }
}

std::vector<ParsedTensor> ParseHeader(
    const MappedFile& file, uint64_t header_length,
    std::map<std::string, std::string>& metadata) {
  const auto* text = reinterpret_cast<const char*>(file.data().data() + 8);
  internal::StrictJson header = internal::ParseJsonStrict(
      std::string_view(text, header_length), file.path(), "header");
  if (!header.value.is_object()) {
    throw FormatError::ForFile(file.path(), "header is not a JSON object");
  }
  if (header.duplicate) {
    if (header.duplicate->depth == 1) {
      throw FormatError::ForTensor(file.path(), header.duplicate->key,
                                   "duplicate tensor name in the header");
    }
    throw FormatError::ForField(file.path(), header.duplicate->key,
                                "duplicate key in the header");
  }
  const uint64_t data_size = file.size_bytes() - 8 - header_length;
  std::vector<ParsedTensor> tensors;
  for (const auto& [name, entry] : header.value.items()) {
    if (name == "__metadata__") {
      CheckMetadata(file.path(), entry);
      for (const auto& [key, value] : entry.items()) {
        metadata.emplace(key, value.get<std::string>());
      }
      continue;
    }
    tensors.push_back(ParseEntry(file.path(), name, entry, data_size));
  }
  SortAndCheckOverlap(file.path(), tensors);
  return tensors;
}

// The shard each tensor of an index's weight_map lives in, grouped by
// shard file name (in name order).
std::map<std::string, std::vector<std::string>> ParseWeightMap(
    const std::filesystem::path& index_path, std::string_view text) {
  internal::StrictJson index =
      internal::ParseJsonStrict(text, index_path, "index");
  if (!index.value.is_object()) {
    throw FormatError::ForFile(index_path, "index is not a JSON object");
  }
  if (index.duplicate) {
    throw FormatError::ForField(index_path, index.duplicate->key,
                                "duplicate key");
  }
  auto weight_map = index.value.find("weight_map");
  if (weight_map == index.value.end()) {
    throw FormatError::ForField(index_path, "weight_map", "missing");
  }
  if (!weight_map->is_object() || weight_map->empty()) {
    throw FormatError::ForField(index_path, "weight_map",
                                "is not a non-empty object");
  }
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [name, shard] : weight_map->items()) {
    if (!shard.is_string()) {
      throw FormatError::ForTensor(index_path, name,
                                   "weight_map value is not a string");
    }
    const auto shard_name = shard.get<std::string>();
    // Shards must sit beside the index: no directories, no "..".
    const std::filesystem::path shard_path(shard_name);
    if (shard_name.empty() || shard_path.has_parent_path() ||
        shard_name == "." || shard_name == "..") {
      throw FormatError::ForTensor(
          index_path, name,
          "shard '" + shard_name + "' is not a plain file name");
    }
    by_shard[shard_name].push_back(name);
  }
  return by_shard;
}

}  // namespace

std::unique_ptr<SafetensorsReader> SafetensorsReader::OpenIndex(
    const std::filesystem::path& index_path) {
  std::map<std::string, std::vector<std::string>> by_shard;
  {
    MappedFile index(index_path);
    const auto* text = reinterpret_cast<const char*>(index.data().data());
    by_shard =
        ParseWeightMap(index_path, std::string_view(text, index.data().size()));
  }
  std::unique_ptr<SafetensorsReader> reader(new SafetensorsReader(index_path));
  for (const auto& [shard_name, names] : by_shard) {
    const std::filesystem::path shard_path =
        index_path.parent_path() / shard_name;
    std::error_code error;
    if (!std::filesystem::is_regular_file(shard_path, error)) {
      throw FormatError::ForTensor(index_path, names.front(),
                                   "shard '" + shard_name + "' does not exist");
    }
    reader->AddShard(shard_path);
    const size_t shard_index = reader->shards_.size() - 1;
    for (const std::string& name : names) {
      auto it = reader->entries_.find(name);
      if (it == reader->entries_.end() || it->second.shard != shard_index) {
        throw FormatError::ForTensor(
            index_path, name, "missing from its shard '" + shard_name + "'");
      }
    }
  }
  return reader;
}

std::unique_ptr<SafetensorsReader> SafetensorsReader::OpenFile(
    const std::filesystem::path& path) {
  std::unique_ptr<SafetensorsReader> reader(new SafetensorsReader(path));
  reader->AddShard(path);
  return reader;
}

void SafetensorsReader::AddShard(const std::filesystem::path& path) {
  MappedFile file(path);
  const uint64_t header_length = ReadHeaderLength(file);
  std::vector<ParsedTensor> parsed =
      ParseHeader(file, header_length, metadata_);
  const size_t shard_index = shards_.size();
  for (ParsedTensor& tensor : parsed) {
    auto existing = entries_.find(tensor.name);
    if (existing != entries_.end()) {
      throw FormatError::ForTensor(
          path, tensor.name,
          "also stored in " +
              shards_[existing->second.shard].file.path().string());
    }
    const Entry entry{shard_index, tensors_.size(), tensor.begin, tensor.end};
    tensors_.push_back(TensorInfo{tensor.name, tensor.storage,
                                  std::move(tensor.shape),
                                  tensor.end - tensor.begin});
    entries_.emplace(tensor.name, entry);
  }
  shards_.push_back(Shard{std::move(file), 8 + header_length});
}

bool SafetensorsReader::Contains(std::string_view name) const {
  return entries_.find(name) != entries_.end();
}

const SafetensorsReader::Entry& SafetensorsReader::Find(
    std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    throw FormatError::ForTensor(origin_, std::string(name), "no such tensor");
  }
  return it->second;
}

std::span<const std::byte> SafetensorsReader::RawBytes(
    std::string_view name) const {
  const Entry& entry = Find(name);
  const Shard& shard = shards_[entry.shard];
  return shard.file.data().subspan(shard.data_start + entry.begin,
                                   entry.end - entry.begin);
}

const std::filesystem::path& SafetensorsReader::FileOf(
    std::string_view name) const {
  return shards_[Find(name).shard].file.path();
}

at::Tensor SafetensorsReader::LoadFloat(std::string_view name) const {
  const Entry& entry = Find(name);
  const TensorInfo& info = tensors_[entry.info];
  const std::span<const std::byte> bytes = RawBytes(name);
  at::Tensor tensor = DecodeToFloat(info.storage, bytes, info.shape);
  shards_[entry.shard].file.Evict(bytes);
  return tensor;
}

std::string SafetensorsReader::Describe() const {
  if (shards_.size() == 1 && shards_[0].file.path() == origin_) {
    return origin_.string();
  }
  return origin_.string() + " (" + std::to_string(shards_.size()) + " shards)";
}

}  // namespace quantd::engine::io
