#include "worker/engine/pipeline/spec_reader.h"

#include <c10/util/StringUtil.h>

#include <cctype>
#include <charconv>
#include <limits>

namespace quantd::engine::pipeline::internal {
namespace {

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  return lower;
}

}  // namespace

SpecReader::SpecReader(const nlohmann::json& object, std::string path,
                       std::initializer_list<std::string_view> known)
    : object_(object.is_null() ? nlohmann::json::object() : object),
      path_(std::move(path)) {
  if (!object_.is_object()) {
    throw SpecError(path_, "must be a JSON object, got " + object_.dump());
  }
  for (const auto& [key, value] : object_.items()) {
    bool found = false;
    for (std::string_view name : known) found = found || name == key;
    if (!found) throw SpecError(Field(key), "unknown field");
  }
}

std::string SpecReader::Field(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const nlohmann::json* SpecReader::Value(std::string_view key) const {
  auto found = object_.find(std::string(key));
  if (found == object_.end() || found->is_null()) return nullptr;
  return &*found;
}

bool SpecReader::Has(std::string_view key) const {
  return Value(key) != nullptr;
}

std::optional<std::string> SpecReader::String(std::string_view key) const {
  const nlohmann::json* value = Value(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    throw SpecError(Field(key), "must be a string, got " + value->dump());
  }
  return value->get<std::string>();
}

std::optional<bool> SpecReader::Bool(std::string_view key) const {
  const nlohmann::json* value = Value(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    throw SpecError(Field(key), "must be true or false, got " + value->dump());
  }
  return value->get<bool>();
}

std::optional<double> SpecReader::Number(std::string_view key) const {
  const nlohmann::json* value = Value(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) {
    throw SpecError(Field(key), "must be a number, got " + value->dump());
  }
  return value->get<double>();
}

std::optional<uint64_t> SpecReader::Unsigned(std::string_view key) const {
  const nlohmann::json* value = Value(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_unsigned()) return value->get<uint64_t>();
  if (value->is_string()) {
    const std::string text = value->get<std::string>();
    uint64_t parsed = 0;
    const char* end = text.data() + text.size();
    auto result = std::from_chars(text.data(), end, parsed);
    if (!text.empty() && result.ec == std::errc() && result.ptr == end) {
      return parsed;
    }
  }
  throw SpecError(Field(key),
                  "must be a non-negative integer, got " + value->dump());
}

std::optional<int64_t> SpecReader::Integer(std::string_view key, int64_t min,
                                           int64_t max) const {
  const nlohmann::json* value = Value(key);
  if (value == nullptr) return std::nullopt;
  int64_t parsed = 0;
  bool ok = value->is_number_integer();
  if (ok) {
    parsed = value->get<int64_t>();
  } else if (value->is_string()) {
    const std::string text = value->get<std::string>();
    const char* end = text.data() + text.size();
    auto result = std::from_chars(text.data(), end, parsed);
    ok = !text.empty() && result.ec == std::errc() && result.ptr == end;
  }
  if (!ok) {
    throw SpecError(Field(key), "must be an integer, got " + value->dump());
  }
  if (parsed < min || parsed > max) {
    throw SpecError(Field(key),
                    c10::str("must be in ", min, "..", max, ", got ", parsed));
  }
  return parsed;
}

const nlohmann::json* SpecReader::Object(std::string_view key) const {
  const nlohmann::json* value = Value(key);
  if (value != nullptr && !value->is_object()) {
    throw SpecError(Field(key), "must be a JSON object, got " + value->dump());
  }
  return value;
}

const nlohmann::json* SpecReader::Array(std::string_view key) const {
  const nlohmann::json* value = Value(key);
  if (value != nullptr && !value->is_array()) {
    throw SpecError(Field(key), "must be a JSON array, got " + value->dump());
  }
  return value;
}

std::optional<int> SpecReader::Enum(
    std::string_view key, std::string_view prefix,
    std::initializer_list<std::string_view> names) const {
  const nlohmann::json* value = Value(key);
  if (value == nullptr) return std::nullopt;
  const int count = static_cast<int>(names.size());
  if (value->is_number_integer()) {
    const int64_t number = value->get<int64_t>();
    if (number >= 0 && number < count) return static_cast<int>(number);
  } else if (value->is_string()) {
    const std::string text = Lower(value->get<std::string>());
    int index = 0;
    for (std::string_view name : names) {
      const std::string full = Lower(std::string(prefix) + std::string(name));
      if (text == full || text == Lower(name)) return index;
      ++index;
    }
  }
  std::string expected;
  for (std::string_view name : names) {
    expected += (expected.empty() ? "" : ", ") + std::string(prefix) +
                std::string(name);
  }
  throw SpecError(Field(key), "unknown value " + value->dump() +
                                  " (expected one of: " + expected + ")");
}

std::string ProblemOf(const std::string& message) {
  const size_t colon = message.find(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

}  // namespace quantd::engine::pipeline::internal
