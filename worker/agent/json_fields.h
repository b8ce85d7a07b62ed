// JsonFields: typed, non-throwing reads of the fields of one JSON object
// written by another program (the engine). A missing or null field yields
// the default; a field of the wrong type is an InvalidArgument naming
// "<where>.<key>".
//
// Thread-safety: a read-only view; does not own the object.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace quantd::agent {

class JsonFields {
 public:
  using Json = nlohmann::json;

  // `object` must be a JSON object and outlive this view.
  JsonFields(const Json& object, std::string where)
      : object_(object), where_(std::move(where)) {}

  absl::StatusOr<std::string> String(const char* key) const;
  absl::StatusOr<double> Double(const char* key, double fallback = 0) const;
  absl::StatusOr<uint64_t> Unsigned(
      const char* key,
      uint64_t max = std::numeric_limits<uint64_t>::max()) const;
  // Null when missing.
  absl::StatusOr<const Json*> Array(const char* key) const;
  // Null when missing or null.
  const Json* Find(const char* key) const;
  absl::Status Error(const char* key, absl::string_view reason) const;

 private:
  const Json& object_;
  const std::string where_;
};

}  // namespace quantd::agent
