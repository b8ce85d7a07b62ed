#include "contract/gguf_metadata.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "contract/byte_cursor.h"
#include "contract/format_error.h"

namespace quantd::contract {
namespace {

using internal::ByteCursor;

// Bytes one value of a scalar type occupies; strings at least their length
// prefix. 0 for kArray and unknown types.
uint64_t MinimumSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kString:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

bool ReadBool(ByteCursor& cursor) {
  const auto byte = cursor.Read<uint8_t>("bool value");
  if (byte > 1) {
    cursor.Fail("bool value " + std::to_string(byte) + " is neither 0 nor 1");
  }
  return byte == 1;
}

// Integers of every width except uint64 widen losslessly into int64_t.
std::optional<int64_t> ReadNarrowInteger(ByteCursor& cursor,
                                         GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return cursor.Read<uint8_t>("uint8 value");
    case GgufValueType::kInt8:
      return cursor.Read<int8_t>("int8 value");
    case GgufValueType::kUint16:
      return cursor.Read<uint16_t>("uint16 value");
    case GgufValueType::kInt16:
      return cursor.Read<int16_t>("int16 value");
    case GgufValueType::kUint32:
      return cursor.Read<uint32_t>("uint32 value");
    case GgufValueType::kInt32:
      return cursor.Read<int32_t>("int32 value");
    case GgufValueType::kInt64:
      return cursor.Read<int64_t>("int64 value");
    case GgufValueType::kBool:
      return ReadBool(cursor) ? 1 : 0;
    default:
      return std::nullopt;
  }
}

GgufValue ReadScalar(ByteCursor& cursor, GgufValueType type) {
  GgufValue value{type, type, int64_t{0}};
  if (auto integer = ReadNarrowInteger(cursor, type)) {
    value.data = *integer;
    if (type == GgufValueType::kBool) value.data = (*integer != 0);
    return value;
  }
  switch (type) {
    case GgufValueType::kUint64:
      value.data = cursor.Read<uint64_t>("uint64 value");
      break;
    case GgufValueType::kFloat32:
      value.data = static_cast<double>(cursor.Read<float>("float32 value"));
      break;
    case GgufValueType::kFloat64:
      value.data = cursor.Read<double>("float64 value");
      break;
    case GgufValueType::kString:
      value.data = cursor.ReadString("string value");
      break;
    default:
      cursor.Fail("unknown value type " +
                  std::to_string(static_cast<uint32_t>(type)));
  }
  return value;
}

template <typename T>
std::vector<T> ReadElements(ByteCursor& cursor, GgufValueType type,
                            uint64_t count) {
  std::vector<T> elements;
  // Reserve at most 1M up front: a hostile count is only bounded by the
  // file size, and a std::string is larger than its 8-byte length prefix.
  elements.reserve(static_cast<size_t>(std::min<uint64_t>(count, 1 << 20)));
  for (uint64_t i = 0; i < count; ++i) {
    elements.push_back(std::get<T>(ReadScalar(cursor, type).data));
  }
  return elements;
}

GgufValue ReadArray(ByteCursor& cursor) {
  const auto element =
      static_cast<GgufValueType>(cursor.Read<uint32_t>("array element type"));
  if (element == GgufValueType::kArray) {
    cursor.Fail("nested arrays are not supported");
  }
  const uint64_t element_size = MinimumSize(element);
  if (element_size == 0) {
    cursor.Fail("unknown array element type " +
                std::to_string(static_cast<uint32_t>(element)));
  }
  const auto count = cursor.Read<uint64_t>("array length");
  if (count > cursor.remaining() / element_size) {
    cursor.Fail("array length " + std::to_string(count) + " of " +
                GgufValueTypeName(element) + " cannot fit in the " +
                std::to_string(cursor.remaining()) + " bytes left");
  }
  GgufValue value{GgufValueType::kArray, element, int64_t{0}};
  switch (element) {
    case GgufValueType::kString:
      value.data = ReadElements<std::string>(cursor, element, count);
      break;
    case GgufValueType::kUint64:
      value.data = ReadElements<uint64_t>(cursor, element, count);
      break;
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64:
      value.data = ReadElements<double>(cursor, element, count);
      break;
    case GgufValueType::kBool: {
      std::vector<int64_t> bools;
      for (uint64_t i = 0; i < count; ++i) bools.push_back(ReadBool(cursor));
      value.data = std::move(bools);
      break;
    }
    default:
      value.data = ReadElements<int64_t>(cursor, element, count);
  }
  return value;
}

}  // namespace

const char* GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "uint8";
    case GgufValueType::kInt8:
      return "int8";
    case GgufValueType::kUint16:
      return "uint16";
    case GgufValueType::kInt16:
      return "int16";
    case GgufValueType::kUint32:
      return "uint32";
    case GgufValueType::kInt32:
      return "int32";
    case GgufValueType::kFloat32:
      return "float32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kUint64:
      return "uint64";
    case GgufValueType::kInt64:
      return "int64";
    case GgufValueType::kFloat64:
      return "float64";
  }
  return "unknown";
}

GgufValue GgufMetadata::ReadValue(ByteCursor& cursor, GgufValueType type) {
  if (type == GgufValueType::kArray) return ReadArray(cursor);
  return ReadScalar(cursor, type);
}

void GgufMetadata::Add(std::string key, GgufValue value) {
  if (entries_.contains(key)) {
    throw FormatError::ForField(file_, key, "duplicate metadata key");
  }
  entries_.emplace(std::move(key), std::move(value));
}

const GgufValue* GgufMetadata::Find(std::string_view key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

const GgufValue& GgufMetadata::Require(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) {
    throw FormatError::ForField(file_, std::string(key), "missing");
  }
  return *value;
}

void GgufMetadata::WrongType(std::string_view key, const GgufValue& value,
                             const char* expected) const {
  std::string actual = GgufValueTypeName(value.type);
  if (value.type == GgufValueType::kArray) {
    actual += std::string(" of ") + GgufValueTypeName(value.element_type);
  }
  throw FormatError::ForField(
      file_, std::string(key),
      std::string("wrong type: expected ") + expected + ", got " + actual);
}

std::optional<std::string> GgufMetadata::FindString(
    std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->type != GgufValueType::kString) WrongType(key, *value, "string");
  return std::get<std::string>(value->data);
}

std::optional<int64_t> GgufMetadata::FindInt(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (const auto* v = std::get_if<int64_t>(&value->data);
      v != nullptr && value->type != GgufValueType::kBool) {
    return *v;
  }
  if (const auto* v = std::get_if<uint64_t>(&value->data)) {
    if (*v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw FormatError::ForField(
          file_, std::string(key),
          "value " + std::to_string(*v) + " is out of range");
    }
    return static_cast<int64_t>(*v);
  }
  WrongType(key, *value, "integer");
}

std::optional<double> GgufMetadata::FindFloat(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (const auto* v = std::get_if<double>(&value->data)) return *v;
  if (value->type == GgufValueType::kArray ||
      value->type == GgufValueType::kString ||
      value->type == GgufValueType::kBool) {
    WrongType(key, *value, "number");
  }
  return static_cast<double>(*FindInt(key));
}

std::optional<bool> GgufMetadata::FindBool(std::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->type != GgufValueType::kBool) WrongType(key, *value, "bool");
  return std::get<bool>(value->data);
}

std::string GgufMetadata::GetString(std::string_view key) const {
  Require(key);
  return *FindString(key);
}

int64_t GgufMetadata::GetInt(std::string_view key) const {
  Require(key);
  return *FindInt(key);
}

double GgufMetadata::GetFloat(std::string_view key) const {
  Require(key);
  return *FindFloat(key);
}

bool GgufMetadata::GetBool(std::string_view key) const {
  Require(key);
  return *FindBool(key);
}

const std::vector<std::string>& GgufMetadata::GetStringArray(
    std::string_view key) const {
  const GgufValue& value = Require(key);
  const auto* strings = std::get_if<std::vector<std::string>>(&value.data);
  if (strings == nullptr) WrongType(key, value, "array of string");
  return *strings;
}

std::vector<int64_t> GgufMetadata::GetIntArray(std::string_view key) const {
  const GgufValue& value = Require(key);
  if (const auto* ints = std::get_if<std::vector<int64_t>>(&value.data)) {
    return *ints;
  }
  if (const auto* ints = std::get_if<std::vector<uint64_t>>(&value.data)) {
    std::vector<int64_t> result;
    for (uint64_t v : *ints) {
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw FormatError::ForField(
            file_, std::string(key),
            "element " + std::to_string(v) + " is out of range");
      }
      result.push_back(static_cast<int64_t>(v));
    }
    return result;
  }
  WrongType(key, value, "array of integer");
}

}  // namespace quantd::contract
