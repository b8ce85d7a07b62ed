// GgufHeader: the part of a GGUF v2/v3 file before its tensor directory
// (version, tensor count, metadata, alignment). The one GGUF header reader:
// quantd reads it at submit for the model's shape, the engine's GgufFile
// parses its tensor directory after it.
//
// Validation: magic, version (2 or 3; v1 and big-endian files named as
// such), counts bounded by the bytes left, every string and array inside
// the file, metadata types, general.alignment a power of two (default 32).
// The file is untrusted: every failure is a FormatError naming the file and
// the field.
#pragma once

#include <cstdint>
#include <filesystem>

#include "contract/gguf_metadata.h"

namespace quantd::contract {

namespace internal {
class ByteCursor;
}  // namespace internal

struct GgufHeader {
  static constexpr uint64_t kDefaultAlignment = 32;

  explicit GgufHeader(std::filesystem::path file) : metadata(std::move(file)) {}

  uint32_t version = 0;
  uint64_t tensor_count = 0;
  uint64_t alignment = kDefaultAlignment;
  GgufMetadata metadata;
};

// Parses the header from the start of the cursor's bytes and leaves the
// cursor at the tensor directory, with the tensor count checked against
// the bytes left. Throws FormatError.
GgufHeader ParseGgufHeader(internal::ByteCursor& cursor);

// Maps `path` and parses its header; no tensor data is read. Throws
// FormatError.
GgufHeader ReadGgufHeader(const std::filesystem::path& path);

// True when the file starts with the GGUF magic.
bool LooksLikeGguf(const std::filesystem::path& path);

}  // namespace quantd::contract
