// ByteCursor: bounds-checked little-endian reads from a mapped file, for
// the binary GGUF header. Every read checks the bytes left first and throws
// FormatError naming the file, the current tensor or field, what was being
// read and where, so a truncated or hostile file can never be read past its
// end.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "contract/format_error.h"

namespace quantd::contract::internal {

class ByteCursor {
 public:
  ByteCursor(std::span<const std::byte> data, std::filesystem::path file)
      : data_(data), file_(std::move(file)) {}

  uint64_t position() const { return position_; }
  uint64_t remaining() const { return data_.size() - position_; }
  const std::filesystem::path& file() const { return file_; }

  // What later errors are about (the file, a tensor or a field).
  void SetSubject(FormatError::Subject subject, std::string name) {
    subject_ = subject;
    name_ = std::move(name);
  }

  // Throws FormatError about the current subject.
  [[noreturn]] void Fail(const std::string& problem) const {
    throw FormatError(file_, subject_, name_, problem);
  }

  template <typename T>
  T Read(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    static_assert(std::endian::native == std::endian::little);
    Require(sizeof(T), what);
    T value;
    std::memcpy(&value, data_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }

  // A GGUF string: uint64 byte length, then the bytes (no terminator).
  std::string ReadString(std::string_view what) {
    const auto length = Read<uint64_t>(what);
    if (length > remaining()) {
      Fail(std::string(what) + " length " + std::to_string(length) +
           " at offset " + std::to_string(position_ - 8) +
           " runs past the end of the file (" + std::to_string(remaining()) +
           " bytes left)");
    }
    std::string text(reinterpret_cast<const char*>(data_.data() + position_),
                     static_cast<size_t>(length));
    position_ += length;
    return text;
  }

 private:
  void Require(uint64_t bytes, std::string_view what) const {
    if (bytes > remaining()) {
      Fail("truncated: reading " + std::string(what) + " at offset " +
           std::to_string(position_) + " needs " + std::to_string(bytes) +
           " bytes, " + std::to_string(remaining()) + " left");
    }
  }

  std::span<const std::byte> data_;
  std::filesystem::path file_;
  uint64_t position_ = 0;
  FormatError::Subject subject_ = FormatError::Subject::kFile;
  std::string name_;
};

}  // namespace quantd::contract::internal
