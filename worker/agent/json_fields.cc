#include "worker/agent/json_fields.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd::agent {

absl::StatusOr<std::string> JsonFields::String(const char* key) const {
  const Json* value = Find(key);
  if (value == nullptr) return std::string();
  if (!value->is_string()) return Error(key, "must be a string");
  return value->get<std::string>();
}

absl::StatusOr<double> JsonFields::Double(const char* key,
                                          double fallback) const {
  const Json* value = Find(key);
  if (value == nullptr) return fallback;
  if (!value->is_number()) return Error(key, "must be a number");
  return value->get<double>();
}

absl::StatusOr<uint64_t> JsonFields::Unsigned(const char* key,
                                              uint64_t max) const {
  const Json* value = Find(key);
  if (value == nullptr) return uint64_t{0};
  // The parser stores every non-negative integer as unsigned.
  if (!value->is_number_unsigned()) {
    return Error(key, "must be a non-negative integer");
  }
  const uint64_t number = value->get<uint64_t>();
  if (number > max) return Error(key, absl::StrCat("must be at most ", max));
  return number;
}

absl::StatusOr<const JsonFields::Json*> JsonFields::Array(
    const char* key) const {
  const Json* value = Find(key);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) return Error(key, "must be an array");
  return value;
}

const JsonFields::Json* JsonFields::Find(const char* key) const {
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status JsonFields::Error(const char* key,
                               absl::string_view reason) const {
  return InvalidFieldError(absl::StrCat(where_, ".", key), reason);
}

}  // namespace quantd::agent
