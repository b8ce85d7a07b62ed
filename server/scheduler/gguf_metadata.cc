#include "server/scheduler/gguf_metadata.h"

#include <algorithm>
#include <fstream>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd::scheduler {
namespace {

// GGUF value types (gguf.md).
enum : uint32_t {
  kUint8 = 0,
  kInt8,
  kUint16,
  kInt16,
  kUint32,
  kInt32,
  kFloat32,
  kBool,
  kString,
  kArray,
  kUint64,
  kInt64,
  kFloat64,
};

constexpr uint64_t kMaxKvCount = 1u << 20;
constexpr uint64_t kMaxStringBytes = 16u << 20;
constexpr uint64_t kMaxArrayCount = 1u << 28;

// Sequential little-endian reads with bounds checks; the first failure
// sticks and is reported once.
class HeaderReader {
 public:
  HeaderReader(const std::string& path, const std::string& field)
      : in_(path, std::ios::binary | std::ios::ate), field_(field) {
    size_ = in_ ? static_cast<uint64_t>(in_.tellg()) : 0;
    in_.seekg(0);
  }
  bool open() const { return in_.is_open(); }

  template <typename T>
  absl::StatusOr<T> Read(const char* what) {
    T value{};
    if (!in_.read(reinterpret_cast<char*>(&value), sizeof(T))) {
      return Truncated(what);
    }
    return value;
  }

  absl::StatusOr<std::string> ReadString(const char* what) {
    QUANTD_ASSIGN_OR_RETURN(uint64_t size, Read<uint64_t>(what));
    if (size > kMaxStringBytes) {
      return InvalidFieldError(field_, absl::StrCat("GGUF ", what, " length ",
                                                    size, " is too large"));
    }
    std::string text(size, '\0');
    if (!in_.read(text.data(), static_cast<std::streamsize>(size))) {
      return Truncated(what);
    }
    return text;
  }

  absl::Status Skip(uint64_t bytes, const char* what) {
    const uint64_t position = static_cast<uint64_t>(in_.tellg());
    if (bytes > size_ - std::min(size_, position)) return Truncated(what);
    in_.seekg(static_cast<std::streamoff>(bytes), std::ios::cur);
    if (!in_) return Truncated(what);
    return absl::OkStatus();
  }

  absl::Status Truncated(const char* what) {
    return InvalidFieldError(field_,
                             absl::StrCat("GGUF header truncated in ", what));
  }
  const std::string& field() const { return field_; }

 private:
  std::ifstream in_;
  std::string field_;
  uint64_t size_ = 0;
};

uint64_t ScalarSize(uint32_t type) {
  switch (type) {
    case kUint8:
    case kInt8:
    case kBool:
      return 1;
    case kUint16:
    case kInt16:
      return 2;
    case kUint32:
    case kInt32:
    case kFloat32:
      return 4;
    case kUint64:
    case kInt64:
    case kFloat64:
      return 8;
    default:
      return 0;
  }
}

// Reads an integer-typed value (any width) or skips anything else; returns
// the integer or 0.
absl::StatusOr<uint64_t> ReadValue(HeaderReader& reader, uint32_t type,
                                   uint64_t* array_count) {
  switch (type) {
    case kUint8:
    case kInt8:
    case kBool:
      return reader.Read<uint8_t>("value");
    case kUint16:
    case kInt16:
      return reader.Read<uint16_t>("value");
    case kUint32:
    case kInt32:
      return reader.Read<uint32_t>("value");
    case kUint64:
    case kInt64:
      return reader.Read<uint64_t>("value");
    case kFloat32:
      QUANTD_RETURN_IF_ERROR(reader.Read<float>("value").status());
      return 0;
    case kFloat64:
      QUANTD_RETURN_IF_ERROR(reader.Read<double>("value").status());
      return 0;
    case kString:
      QUANTD_RETURN_IF_ERROR(reader.ReadString("string value").status());
      return 0;
    case kArray: {
      QUANTD_ASSIGN_OR_RETURN(uint32_t item_type,
                              reader.Read<uint32_t>("array"));
      QUANTD_ASSIGN_OR_RETURN(uint64_t count, reader.Read<uint64_t>("array"));
      if (count > kMaxArrayCount || item_type == kArray) {
        return InvalidFieldError(reader.field(),
                                 "GGUF array is too large or nested");
      }
      *array_count = count;
      if (item_type == kString) {
        for (uint64_t i = 0; i < count; ++i) {
          QUANTD_RETURN_IF_ERROR(reader.ReadString("array string").status());
        }
        return 0;
      }
      const uint64_t size = ScalarSize(item_type);
      if (size == 0) {
        return InvalidFieldError(reader.field(), "GGUF array of unknown type");
      }
      QUANTD_RETURN_IF_ERROR(reader.Skip(size * count, "array"));
      return 0;
    }
    default:
      return InvalidFieldError(
          reader.field(),
          absl::StrCat("GGUF value type ", type, " is unknown"));
  }
}

void Assign(GgufSummary& summary, const std::string& key, uint64_t value,
            uint64_t array_count) {
  if (key == "tokenizer.ggml.tokens" && summary.vocab_size == 0) {
    summary.vocab_size = array_count;
  }
  const std::string& arch = summary.architecture;
  if (arch.empty() || !absl::StartsWith(key, arch + ".")) return;
  const std::string suffix = key.substr(arch.size() + 1);
  if (suffix == "embedding_length") summary.embedding_length = value;
  if (suffix == "feed_forward_length") summary.feed_forward_length = value;
  if (suffix == "block_count") summary.block_count = value;
  if (suffix == "attention.head_count") summary.head_count = value;
  if (suffix == "vocab_size") summary.vocab_size = value;
}

}  // namespace

bool LooksLikeGguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

absl::StatusOr<GgufSummary> ReadGgufSummary(const std::string& path,
                                            const std::string& field) {
  HeaderReader reader(path, field);
  if (!reader.open()) return InvalidFieldError(field, "cannot open the file");
  QUANTD_ASSIGN_OR_RETURN(uint32_t magic, reader.Read<uint32_t>("magic"));
  if (magic != 0x46554747u) {  // "GGUF" little-endian
    return InvalidFieldError(field, "not a GGUF file (bad magic)");
  }
  GgufSummary summary;
  QUANTD_ASSIGN_OR_RETURN(summary.version, reader.Read<uint32_t>("version"));
  if (summary.version < 2 || summary.version > 3) {
    return InvalidFieldError(field,
                             absl::StrCat("GGUF version ", summary.version,
                                          " is not supported (2 or 3)"));
  }
  QUANTD_ASSIGN_OR_RETURN(summary.tensor_count,
                          reader.Read<uint64_t>("tensor count"));
  QUANTD_ASSIGN_OR_RETURN(uint64_t kv_count, reader.Read<uint64_t>("kv count"));
  if (kv_count > kMaxKvCount) {
    return InvalidFieldError(
        field, absl::StrCat("GGUF kv count ", kv_count, " is too large"));
  }
  // Architecture-prefixed keys may precede general.architecture, so keep
  // integer values until the architecture is known.
  std::vector<std::tuple<std::string, uint64_t, uint64_t>> pending;
  for (uint64_t i = 0; i < kv_count; ++i) {
    QUANTD_ASSIGN_OR_RETURN(std::string key, reader.ReadString("key"));
    QUANTD_ASSIGN_OR_RETURN(uint32_t type, reader.Read<uint32_t>("type"));
    if (key == "general.architecture" && type == kString) {
      QUANTD_ASSIGN_OR_RETURN(summary.architecture,
                              reader.ReadString("architecture"));
      continue;
    }
    uint64_t array_count = 0;
    QUANTD_ASSIGN_OR_RETURN(uint64_t value,
                            ReadValue(reader, type, &array_count));
    pending.emplace_back(std::move(key), value, array_count);
  }
  for (const auto& [key, value, count] : pending) {
    Assign(summary, key, value, count);
  }
  return summary;
}

}  // namespace quantd::scheduler
