#include "contract/gguf_header.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include "contract/byte_cursor.h"
#include "contract/format_error.h"
#include "contract/mapped_file.h"

namespace quantd::contract {
namespace {

using internal::ByteCursor;

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian.
// The smallest encodings, which bound how many entries a file can hold:
// a KV is an empty key (8) + type (4) + a 1-byte value; a tensor info is
// an empty name (8) + n_dims (4) + one dim (8) + type (4) + offset (8).
constexpr uint64_t kMinKeyValueBytes = 13;
constexpr uint64_t kMinTensorInfoBytes = 32;

uint32_t SwapBytes(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
}

void CheckVersion(ByteCursor& cursor, uint32_t version) {
  if (version == 2 || version == 3) return;
  if (version == 1) {
    cursor.Fail("unsupported GGUF version 1 (obsolete; supported: 2 and 3)");
  }
  if (SwapBytes(version) == 2 || SwapBytes(version) == 3) {
    cursor.Fail("big-endian GGUF files are not supported");
  }
  cursor.Fail("unsupported GGUF version " + std::to_string(version) +
              " (supported: 2 and 3)");
}

void CheckCount(ByteCursor& cursor, const char* what, uint64_t count,
                uint64_t min_bytes) {
  if (count <= cursor.remaining() / min_bytes) return;
  cursor.Fail(std::string(what) + " " + std::to_string(count) +
              " cannot fit in the " + std::to_string(cursor.remaining()) +
              " bytes left");
}

void ParseMetadata(ByteCursor& cursor, uint64_t count, GgufMetadata& out) {
  for (uint64_t i = 0; i < count; ++i) {
    cursor.SetSubject(FormatError::Subject::kField,
                      "metadata #" + std::to_string(i));
    std::string key = cursor.ReadString("key");
    cursor.SetSubject(FormatError::Subject::kField, key);
    const auto type = cursor.Read<uint32_t>("value type");
    GgufValue value =
        GgufMetadata::ReadValue(cursor, static_cast<GgufValueType>(type));
    out.Add(std::move(key), std::move(value));
  }
}

uint64_t AlignmentOf(const GgufMetadata& metadata,
                     const std::filesystem::path& file) {
  const GgufValue* value = metadata.Find("general.alignment");
  if (value == nullptr) return GgufHeader::kDefaultAlignment;
  if (value->type != GgufValueType::kUint32) {
    throw FormatError::ForField(
        file, "general.alignment",
        std::string("wrong type: expected uint32, got ") +
            GgufValueTypeName(value->type));
  }
  const auto alignment = static_cast<uint64_t>(std::get<int64_t>(value->data));
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw FormatError::ForField(
        file, "general.alignment",
        std::to_string(alignment) + " is not a power of two");
  }
  return alignment;
}

}  // namespace

GgufHeader ParseGgufHeader(ByteCursor& cursor) {
  GgufHeader header(cursor.file());
  const auto magic = cursor.Read<uint32_t>("magic");
  if (magic != kMagic) {
    char text[16];
    std::snprintf(text, sizeof(text), "0x%08x", magic);
    cursor.Fail(std::string("bad magic ") + text + ": not a GGUF file");
  }
  header.version = cursor.Read<uint32_t>("version");
  CheckVersion(cursor, header.version);
  header.tensor_count = cursor.Read<uint64_t>("tensor count");
  const auto metadata_count = cursor.Read<uint64_t>("metadata count");
  CheckCount(cursor, "metadata count", metadata_count, kMinKeyValueBytes);
  ParseMetadata(cursor, metadata_count, header.metadata);
  header.alignment = AlignmentOf(header.metadata, cursor.file());
  cursor.SetSubject(FormatError::Subject::kFile, "");
  CheckCount(cursor, "tensor count", header.tensor_count, kMinTensorInfoBytes);
  return header;
}

GgufHeader ReadGgufHeader(const std::filesystem::path& path) {
  const MappedFile file(path);
  ByteCursor cursor(file.data(), path);
  return ParseGgufHeader(cursor);
}

bool LooksLikeGguf(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

}  // namespace quantd::contract
