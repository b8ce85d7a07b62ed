#include "worker/engine/export/gguf_exporter.h"

#include <c10/util/Half.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>

#include "worker/engine/export/export_error.h"
#include "worker/engine/export/linear_codes.h"
#include "worker/engine/io/gguf_llama_names.h"

namespace quantd::engine::exporting {
namespace {

static_assert(std::endian::native == std::endian::little,
              "GGUF is little-endian; a big-endian host needs swaps");

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kAlignment = 32;
constexpr uint32_t kGgmlF32 = 0;
constexpr int64_t kBlock = contract::kGgufBlockSize;

// llama.cpp's LLAMA_FTYPE_MOSTLY_* of a whole-file type.
uint32_t FileType(contract::GgufType type) {
  switch (type) {
    case contract::GgufType::kQ4_0:
      return 2;
    case contract::GgufType::kQ4_1:
      return 3;
    case contract::GgufType::kQ8_0:
      return 7;
  }
  return 0;
}

uint64_t BlockBytes(contract::GgufType type) {
  switch (type) {
    case contract::GgufType::kQ4_0:
      return 18;
    case contract::GgufType::kQ4_1:
      return 20;
    case contract::GgufType::kQ8_0:
      return 34;
  }
  return 0;
}

uint64_t AlignUp(uint64_t value) {
  return (value + kAlignment - 1) / kAlignment * kAlignment;
}

// Little-endian serialization of the header.
class Bytes {
 public:
  template <typename T>
  void Put(T value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    data_.insert(data_.end(), p, p + sizeof(T));
  }
  void PutString(std::string_view text) {
    Put<uint64_t>(text.size());
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    data_.insert(data_.end(), p, p + text.size());
  }
  void PadTo(uint64_t size) { data_.resize(size, std::byte{0}); }
  std::vector<std::byte>& data() { return data_; }

 private:
  std::vector<std::byte> data_;
};

// One scalar of `type` from the normalized value the reader kept.
void PutScalar(Bytes& out, io::GgufValueType type, const auto& value) {
  using io::GgufValueType;
  const auto as_int = [&]() -> int64_t {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(value)>>) {
      return static_cast<int64_t>(value);
    }
    return 0;
  };
  const auto as_double = [&]() -> double {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(value)>>) {
      return static_cast<double>(value);
    }
    return 0.0;
  };
  switch (type) {
    case GgufValueType::kUint8:
      return out.Put<uint8_t>(static_cast<uint8_t>(as_int()));
    case GgufValueType::kInt8:
      return out.Put<int8_t>(static_cast<int8_t>(as_int()));
    case GgufValueType::kUint16:
      return out.Put<uint16_t>(static_cast<uint16_t>(as_int()));
    case GgufValueType::kInt16:
      return out.Put<int16_t>(static_cast<int16_t>(as_int()));
    case GgufValueType::kUint32:
      return out.Put<uint32_t>(static_cast<uint32_t>(as_int()));
    case GgufValueType::kInt32:
      return out.Put<int32_t>(static_cast<int32_t>(as_int()));
    case GgufValueType::kFloat32:
      return out.Put<float>(static_cast<float>(as_double()));
    case GgufValueType::kBool:
      return out.Put<uint8_t>(as_int() != 0 ? 1 : 0);
    case GgufValueType::kUint64:
      if constexpr (std::is_same_v<std::decay_t<decltype(value)>, uint64_t>) {
        return out.Put<uint64_t>(value);
      }
      return out.Put<uint64_t>(static_cast<uint64_t>(as_int()));
    case GgufValueType::kInt64:
      return out.Put<int64_t>(as_int());
    case GgufValueType::kFloat64:
      return out.Put<double>(as_double());
    case GgufValueType::kString:
    case GgufValueType::kArray:
      break;
  }
  throw ExportError("GGUF export: unexpected scalar type");
}

void PutValue(Bytes& out, const io::GgufValue& value) {
  out.Put<uint32_t>(static_cast<uint32_t>(value.type));
  std::visit(
      [&](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.PutString(data);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out.Put<uint32_t>(static_cast<uint32_t>(io::GgufValueType::kString));
          out.Put<uint64_t>(data.size());
          for (const std::string& item : data) out.PutString(item);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>> ||
                             std::is_same_v<T, std::vector<uint64_t>> ||
                             std::is_same_v<T, std::vector<double>>) {
          out.Put<uint32_t>(static_cast<uint32_t>(value.element_type));
          out.Put<uint64_t>(data.size());
          for (const auto& item : data)
            PutScalar(out, value.element_type, item);
        } else {
          PutScalar(out, value.type, data);
        }
      },
      value.data);
}

io::GgufValue Uint32Value(uint32_t number) {
  return {io::GgufValueType::kUint32, io::GgufValueType::kUint8,
          static_cast<int64_t>(number)};
}

io::GgufValue StringValue(std::string text) {
  return {io::GgufValueType::kString, io::GgufValueType::kUint8,
          std::move(text)};
}

bool IsBlockLinearWeight(const std::string& hf_name) {
  static const char* kLinears[] = {
      ".self_attn.q_proj.weight", ".self_attn.k_proj.weight",
      ".self_attn.v_proj.weight", ".self_attn.o_proj.weight",
      ".mlp.gate_proj.weight",    ".mlp.up_proj.weight",
      ".mlp.down_proj.weight"};
  return std::any_of(
      std::begin(kLinears), std::end(kLinears),
      [&](const char* suffix) { return hf_name.ends_with(suffix); });
}

int64_t BlockOf(const std::string& hf_name) {
  constexpr std::string_view kPrefix = "model.layers.";
  if (!hf_name.starts_with(kPrefix)) return -1;
  return std::stoll(hf_name.substr(kPrefix.size()));
}

uint16_t HalfBits(float value) { return c10::Half(value).x; }

float HalfValue(uint16_t bits) {
  return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
}

template <typename T>
void PutLe(std::byte* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}

}  // namespace

struct GgufExporter::Entry {
  const io::GgufTensorInfo* source = nullptr;
  std::string hf_name;  // Empty: no HF counterpart, copied as stored.
  io::RowPermutation permutation = io::RowPermutation::kNone;
  int64_t block = -1;
  bool quantized = false;
  uint32_t ggml_type = kGgmlF32;
  uint64_t offset = 0;  // From the start of the data section.
  uint64_t size = 0;
};

std::vector<std::byte> EncodeGgufBlocks(
    contract::GgufType type, const at::Tensor& codes, const at::Tensor& scales,
    const at::Tensor& zero_points, int64_t qmin, const std::string& where,
    double& max_scale_rounding, double& max_weight_change) {
  const int64_t rows = codes.size(0), cols = codes.size(1);
  if (cols % kBlock != 0 || scales.size(0) != rows ||
      scales.size(1) != cols / kBlock) {
    throw ExportError(where + ": needs groups of 32 along the input dimension");
  }
  const at::Tensor q = codes.to(at::kLong).contiguous();
  const at::Tensor delta = scales.to(at::kFloat).contiguous();
  const at::Tensor zp = zero_points.to(at::kLong).contiguous();
  const int64_t* qv = q.data_ptr<int64_t>();
  const float* dv = delta.data_ptr<float>();
  const int64_t* zv = zp.data_ptr<int64_t>();
  const uint64_t block_bytes = BlockBytes(type);
  const int64_t groups = cols / kBlock;
  std::vector<std::byte> out(static_cast<size_t>(rows * groups) * block_bytes);
  const int64_t lo = qmin < 0 ? -8 : 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t group = r * groups + g;
      const float scale = dv[group];
      const int64_t zero = zv[group];
      const int64_t* in = qv + r * cols + g * kBlock;
      std::byte* block = out.data() + group * block_bytes;
      const uint16_t d = HalfBits(scale);
      const float d_value = HalfValue(d);
      if (scale != 0.0f) {
        max_scale_rounding =
            std::max(max_scale_rounding,
                     static_cast<double>(std::fabs(d_value - scale) / scale));
      }
      PutLe(block, d);
      float m_value = 0.0f;
      if (type == contract::GgufType::kQ4_1) {
        const uint16_t m = HalfBits(static_cast<float>(lo - zero) * scale);
        m_value = HalfValue(m);
        PutLe(block + 2, m);
      }
      const int64_t offset = type == contract::GgufType::kQ4_1 ? lo : zero - 8;
      for (int64_t j = 0; j < kBlock; ++j) {
        const float ours = static_cast<float>(in[j] - zero) * scale;
        float theirs = 0.0f;
        if (type == contract::GgufType::kQ8_0) {
          const int64_t stored = in[j] - zero;
          if (stored < -128 || stored > 127) {
            throw ExportError(where + ": code " + std::to_string(in[j]) +
                              " − zero point does not fit Q8_0");
          }
          PutLe(block + 2 + j, static_cast<int8_t>(stored));
          theirs = static_cast<float>(stored) * d_value;
        } else {
          const int64_t stored = in[j] - offset;
          if (stored < 0 || stored > 15) {
            throw ExportError(where + ": code " + std::to_string(in[j]) +
                              " does not fit a 4-bit block");
          }
          const int64_t nibble_at =
              (type == contract::GgufType::kQ4_1 ? 4 : 2) + (j % (kBlock / 2));
          auto* byte = reinterpret_cast<uint8_t*>(block + nibble_at);
          *byte = static_cast<uint8_t>(j < kBlock / 2
                                           ? (*byte & 0xF0) | stored
                                           : (*byte & 0x0F) | (stored << 4));
          theirs = type == contract::GgufType::kQ4_1
                       ? static_cast<float>(stored) * d_value + m_value
                       : static_cast<float>(stored - 8) * d_value;
        }
        max_weight_change = std::max(
            max_weight_change, static_cast<double>(std::fabs(theirs - ours)));
      }
    }
  }
  return out;
}

GgufExporter::GgufExporter(const io::ModelConfig& config, GgufOptions options)
    : config_(config), options_(std::move(options)) {
  try {
    source_ = std::make_unique<io::GgufFile>(options_.source);
  } catch (const std::exception& error) {
    throw ExportError("GGUF export: the source must be a GGUF file: " +
                      std::string(error.what()));
  }
  std::vector<Entry> blocks, rest;
  for (const io::GgufTensorInfo& info : source_->tensors()) {
    Entry entry;
    entry.source = &info;
    if (auto hf = io::LlamaHfName(info.name)) {
      entry.hf_name = hf->name;
      entry.permutation = hf->permutation;
      entry.block = BlockOf(hf->name);
      entry.quantized = IsBlockLinearWeight(hf->name);
    }
    int64_t numel = 1;
    for (int64_t dim : info.dims) numel *= dim;
    if (entry.quantized) {
      if (info.dims.empty() || info.dims[0] % kBlock != 0) {
        throw ExportError("GGUF export: '" + info.name +
                          "' rows are not whole blocks of 32");
      }
      entry.ggml_type = static_cast<uint32_t>(options_.type);
      entry.size =
          static_cast<uint64_t>(numel / kBlock) * BlockBytes(options_.type);
    } else if (!entry.hf_name.empty()) {
      entry.size = static_cast<uint64_t>(numel) * sizeof(float);
    } else {
      entry.ggml_type = info.ggml_type;
      entry.size = info.size_bytes;
    }
    (entry.block >= 0 ? blocks : rest).push_back(std::move(entry));
  }
  std::stable_sort(
      blocks.begin(), blocks.end(),
      [](const Entry& a, const Entry& b) { return a.block < b.block; });
  entries_ = std::move(blocks);
  entries_.insert(entries_.end(), rest.begin(), rest.end());
  uint64_t offset = 0;
  for (Entry& entry : entries_) {
    entry.offset = offset;
    offset = AlignUp(offset + entry.size);
  }

  std::map<std::string, io::GgufValue> metadata(
      source_->metadata().entries().begin(),
      source_->metadata().entries().end());
  metadata.erase("general.alignment");  // The default, 32, is used.
  metadata["general.file_type"] = Uint32Value(FileType(options_.type));
  metadata["general.quantization_version"] = Uint32Value(2);
  metadata["quantd.method"] = StringValue(options_.method);
  metadata["quantd.scheme"] = StringValue(options_.scheme);
  Bytes header;
  header.Put<uint32_t>(kGgufMagic);
  header.Put<uint32_t>(kGgufVersion);
  header.Put<uint64_t>(entries_.size());
  header.Put<uint64_t>(metadata.size());
  for (const auto& [key, value] : metadata) {
    header.PutString(key);
    PutValue(header, value);
  }
  for (const Entry& entry : entries_) {
    header.PutString(entry.source->name);
    header.Put<uint32_t>(static_cast<uint32_t>(entry.source->dims.size()));
    for (int64_t dim : entry.source->dims) {
      header.Put<uint64_t>(static_cast<uint64_t>(dim));
    }
    header.Put<uint32_t>(entry.ggml_type);
    header.Put<uint64_t>(entry.offset);
  }
  data_start_ = AlignUp(header.data().size());
  header.PadTo(data_start_);
  file_.emplace(options_.dir / "model.gguf");
  file_->Write(header.data());
}

GgufExporter::~GgufExporter() = default;

void GgufExporter::WriteEntry(const Entry& entry, const at::Tensor* tensor,
                              const QuantizedLinear* linear) {
  // Zero padding up to the entry's aligned offset.
  const uint64_t at = data_start_ + entry.offset;
  if (file_->size_bytes() < at) {
    std::vector<std::byte> padding(at - file_->size_bytes(), std::byte{0});
    file_->Write(padding);
  }
  const std::string where = "GGUF export: '" + entry.source->name + "'";
  const int64_t heads = entry.permutation == io::RowPermutation::kQuery
                            ? config_.num_heads
                            : config_.num_kv_heads;
  auto permuted = [&](const at::Tensor& rows) {
    return entry.permutation == io::RowPermutation::kNone
               ? rows
               : io::ApplyRotaryPermutation(rows, heads);
  };
  if (tensor == nullptr) {  // Copied as stored.
    file_->Write(source_->TensorBytes(*entry.source));
    return;
  }
  if (!entry.quantized) {
    const at::Tensor values =
        permuted(tensor->detach().to(at::kCPU, at::kFloat)).contiguous();
    if (static_cast<uint64_t>(values.numel()) * sizeof(float) != entry.size) {
      throw ExportError(where + ": shape differs from the source's");
    }
    file_->Write(
        std::span(reinterpret_cast<const std::byte*>(values.data_ptr<float>()),
                  entry.size));
    return;
  }
  if (linear == nullptr || !linear->config.enabled ||
      linear->config.granularity != quant::Granularity::kPerGroup ||
      linear->config.group_size != kBlock) {
    throw ExportError(where + ": not quantized in groups of 32");
  }
  const LinearCodes codes = RecoverLinearCodes(*linear, *tensor, where);
  std::vector<std::byte> blocks = EncodeGgufBlocks(
      options_.type, permuted(codes.codes), permuted(codes.scales),
      permuted(codes.zero_points), codes.qmin, where, max_scale_rounding_,
      max_weight_change_);
  if (blocks.size() != entry.size) {
    throw ExportError(where + ": shape differs from the source's");
  }
  file_->Write(blocks);
  ++quantized_tensors_;
}

void GgufExporter::AddBlock(
    int64_t index,
    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::vector<QuantizedLinear>& linears) {
  if (index != next_block_) {
    throw ExportError("GGUF export: block " + std::to_string(index) +
                      " arrived before block " + std::to_string(next_block_));
  }
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) by_name.emplace(name, &tensor);
  std::map<std::string, const QuantizedLinear*> by_layer;
  for (const QuantizedLinear& linear : linears) {
    by_layer.emplace(linear.name + ".weight", &linear);
  }
  size_t written = 0;
  for (; next_entry_ < entries_.size() && entries_[next_entry_].block == index;
       ++next_entry_) {
    const Entry& entry = entries_[next_entry_];
    auto tensor = by_name.find(entry.hf_name);
    if (tensor == by_name.end()) {
      throw ExportError("GGUF export: block " + std::to_string(index) +
                        " has no tensor '" + entry.hf_name + "'");
    }
    auto linear = by_layer.find(entry.hf_name);
    WriteEntry(entry, tensor->second,
               linear == by_layer.end() ? nullptr : linear->second);
    ++written;
  }
  if (written != tensors.size()) {
    throw ExportError("GGUF export: block " + std::to_string(index) +
                      " holds tensors the source GGUF does not have (e.g. "
                      "a bias a method added)");
  }
  ++next_block_;
  WriteResidentsIfReady();
}

void GgufExporter::AddResident(
    const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  for (const auto& [name, tensor] : tensors) {
    residents_.emplace_back(name, tensor.detach().to(at::kCPU, at::kFloat));
  }
  residents_added_ = true;
  WriteResidentsIfReady();
}

void GgufExporter::WriteResidentsIfReady() {
  if (!residents_added_ || next_block_ < config_.num_layers) return;
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : residents_) by_name.emplace(name, &tensor);
  size_t used = 0;
  for (; next_entry_ < entries_.size(); ++next_entry_) {
    const Entry& entry = entries_[next_entry_];
    if (entry.hf_name.empty()) {
      WriteEntry(entry, nullptr, nullptr);
      continue;
    }
    auto found = by_name.find(entry.hf_name);
    if (found == by_name.end()) {
      throw ExportError("GGUF export: no tensor '" + entry.hf_name + "'");
    }
    WriteEntry(entry, found->second, nullptr);
    ++used;
  }
  if (used != residents_.size()) {
    throw ExportError(
        "GGUF export: the model holds tensors the source GGUF does not have "
        "(e.g. a transformed head of a model with tied embeddings)");
  }
  residents_.clear();
}

std::vector<ShardFile> GgufExporter::Finish() {
  if (next_entry_ != entries_.size()) {
    throw ExportError("GGUF export: Finish before every block and resident");
  }
  WrittenFile written = file_->Commit();
  file_.reset();
  return {{"model.gguf", std::move(written)}};
}

nlohmann::json GgufExporter::Summary() const {
  return {{"type", contract::GgufTypeName(options_.type)},
          {"quantized_tensors", quantized_tensors_},
          {"scale_max_relative_rounding", max_scale_rounding_},
          {"weight_max_abs_change", max_weight_change_}};
}

}  // namespace quantd::engine::exporting
