// GgufMetadata: the key/value metadata of a GGUF file (architecture
// hyper-parameters, tokenizer vocabulary, ...) with typed getters that
// throw FormatError naming the file and the key when a key is missing or
// holds the wrong type.
//
// Thread-safety: immutable once built by GgufFile; safe to read
// concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace quantd::contract {

namespace internal {
class ByteCursor;
}  // namespace internal

// Value types as numbered in the GGUF specification.
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

const char* GgufValueTypeName(GgufValueType type);

struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  // For kArray: the type of the elements (never kArray: nested arrays are
  // rejected when reading).
  GgufValueType element_type = GgufValueType::kUint8;
  // Scalars: signed and narrow integers as int64_t, kUint64 as uint64_t,
  // floats as double, bool, string. Arrays: vectors of the same (bool
  // arrays as int64_t).
  std::variant<int64_t, uint64_t, double, bool, std::string,
               std::vector<int64_t>, std::vector<uint64_t>, std::vector<double>,
               std::vector<std::string>>
      data;
};

class GgufMetadata {
 public:
  explicit GgufMetadata(std::filesystem::path file) : file_(std::move(file)) {}

  // Reads one value of `type` at the cursor; arrays are bounded by the
  // bytes left in the file. Throws FormatError.
  static GgufValue ReadValue(internal::ByteCursor& cursor, GgufValueType type);

  // Throws FormatError on a duplicate key.
  void Add(std::string key, GgufValue value);

  const std::map<std::string, GgufValue, std::less<>>& entries() const {
    return entries_;
  }
  const GgufValue* Find(std::string_view key) const;
  bool Contains(std::string_view key) const { return Find(key) != nullptr; }

  // Required values; throw FormatError when missing or of another type.
  // Integers accept every integer type (range-checked into int64_t);
  // floats accept float and integer types.
  std::string GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  double GetFloat(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  const std::vector<std::string>& GetStringArray(std::string_view key) const;
  std::vector<int64_t> GetIntArray(std::string_view key) const;

  // Optional values: nullopt when absent, FormatError on a wrong type.
  std::optional<std::string> FindString(std::string_view key) const;
  std::optional<int64_t> FindInt(std::string_view key) const;
  std::optional<double> FindFloat(std::string_view key) const;
  std::optional<bool> FindBool(std::string_view key) const;

 private:
  const GgufValue& Require(std::string_view key) const;
  [[noreturn]] void WrongType(std::string_view key, const GgufValue& value,
                              const char* expected) const;

  std::filesystem::path file_;
  std::map<std::string, GgufValue, std::less<>> entries_;
};

}  // namespace quantd::contract
