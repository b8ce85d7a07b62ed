#include "worker/engine/export/safetensors_writer.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian bytes; the writer copies "
              "memory as is");

struct DtypeInfo {
  at::ScalarType type;
  const char* name;
  uint64_t bytes;
};

constexpr DtypeInfo kDtypes[] = {
    {at::kFloat, "F32", 4},  {at::kHalf, "F16", 2}, {at::kBFloat16, "BF16", 2},
    {at::kDouble, "F64", 8}, {at::kLong, "I64", 8}, {at::kInt, "I32", 4},
    {at::kShort, "I16", 2},  {at::kChar, "I8", 1},  {at::kByte, "U8", 1},
    {at::kBool, "BOOL", 1},
};

// numel · element bytes, or UINT64_MAX (never a valid size) on a negative
// dim or overflow.
uint64_t ExpectedBytes(const TensorLayout& layout) {
  uint64_t total = DtypeElementBytes(layout.dtype);
  for (int64_t dim : layout.shape) {
    if (dim < 0) return std::numeric_limits<uint64_t>::max();
    const auto size = static_cast<uint64_t>(dim);
    if (size != 0 && total > std::numeric_limits<uint64_t>::max() / size) {
      return std::numeric_limits<uint64_t>::max();
    }
    total *= size;
  }
  return total;
}

void CheckLayout(const TensorLayout& layout, std::set<std::string>& names,
                 const std::filesystem::path& path) {
  if (layout.name.empty() || layout.name == "__metadata__") {
    throw ExportError(path.string() + ": invalid tensor name '" + layout.name +
                      "'");
  }
  if (!names.insert(layout.name).second) {
    throw ExportError(path.string() + ": tensor '" + layout.name +
                      "' appears twice");
  }
  if (ExpectedBytes(layout) != layout.size_bytes) {
    throw ExportError(path.string() + ": tensor '" + layout.name +
                      "': " + std::to_string(layout.size_bytes) +
                      " bytes do not match its dtype and shape");
  }
}

}  // namespace

std::string SafetensorsDtype(at::ScalarType type) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.type == type) return info.name;
  }
  throw ExportError(std::string("safetensors: unsupported dtype ") +
                    c10::toString(type));
}

uint64_t DtypeElementBytes(std::string_view dtype) {
  for (const DtypeInfo& info : kDtypes) {
    if (dtype == info.name) return info.bytes;
  }
  throw ExportError("safetensors: unsupported dtype '" + std::string(dtype) +
                    "'");
}

TensorLayout LayoutOf(const std::string& name, const at::Tensor& tensor) {
  if (!tensor.defined()) {
    throw ExportError("safetensors: tensor '" + name + "' is undefined");
  }
  return {name, SafetensorsDtype(tensor.scalar_type()), tensor.sizes().vec(),
          static_cast<uint64_t>(tensor.numel()) * tensor.element_size()};
}

std::string SafetensorsHeader(
    const std::vector<TensorLayout>& layouts,
    const std::map<std::string, std::string>& metadata,
    const std::filesystem::path& path) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorLayout& layout : layouts) {
    CheckLayout(layout, names, path);
    header[layout.name] = {
        {"dtype", layout.dtype},
        {"shape", layout.shape},
        {"data_offsets", {offset, offset + layout.size_bytes}}};
    offset += layout.size_bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string block(8, '\0');
  for (int i = 0; i < 8; ++i) {
    block[static_cast<size_t>(i)] = static_cast<char>(
        (static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xFF);
  }
  return block + text;
}

SafetensorsWriter::SafetensorsWriter(
    const std::filesystem::path& path, std::vector<TensorLayout> layouts,
    const std::map<std::string, std::string>& metadata)
    : layouts_(std::move(layouts)), file_(path) {
  std::sort(layouts_.begin(), layouts_.end(),
            [](const TensorLayout& a, const TensorLayout& b) {
              return a.name < b.name;
            });
  file_.Write(SafetensorsHeader(layouts_, metadata, path));
}

void SafetensorsWriter::WriteTensor(std::string_view name,
                                    std::span<const std::byte> bytes) {
  const std::string where =
      file_.path().string() + ": tensor '" + std::string(name) + "'";
  if (next_ >= layouts_.size() || layouts_[next_].name != name) {
    throw ExportError(where + " written out of order (expected '" +
                      (next_ < layouts_.size() ? layouts_[next_].name
                                               : std::string("<none>")) +
                      "')");
  }
  if (bytes.size() != layouts_[next_].size_bytes) {
    throw ExportError(where + ": got " + std::to_string(bytes.size()) +
                      " bytes, declared " +
                      std::to_string(layouts_[next_].size_bytes));
  }
  file_.Write(bytes);
  ++next_;
}

WrittenFile SafetensorsWriter::Commit() {
  if (next_ != layouts_.size()) {
    throw ExportError(file_.path().string() + ": committed after " +
                      std::to_string(next_) + " of " +
                      std::to_string(layouts_.size()) + " tensors");
  }
  return file_.Commit();
}

std::span<const std::byte> TensorBytes(const at::Tensor& contiguous_cpu) {
  return {static_cast<const std::byte*>(contiguous_cpu.data_ptr()),
          static_cast<size_t>(contiguous_cpu.numel()) *
              contiguous_cpu.element_size()};
}

WrittenFile WriteSafetensors(
    const std::filesystem::path& path,
    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata) {
  std::vector<TensorLayout> layouts;
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) {
    layouts.push_back(LayoutOf(name, tensor));
    by_name.emplace(name, &tensor);
  }
  SafetensorsWriter writer(path, std::move(layouts), metadata);
  for (const TensorLayout& layout : writer.layouts()) {
    at::Tensor cpu =
        by_name.at(layout.name)->detach().to(at::kCPU).contiguous();
    writer.WriteTensor(layout.name, TensorBytes(cpu));
  }
  return writer.Commit();
}

}  // namespace quantd::engine::exporting
