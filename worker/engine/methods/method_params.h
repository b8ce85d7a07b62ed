// MethodParams: the validated `method_params` object of a job spec. Each
// method declares the keys it accepts (ParamSpec: type, range, default);
// Parse rejects unknown keys, wrong types and out-of-range values with a
// ParamError naming the field ("method_params.alpha: must be in [0, 1],
// got 2"), and fills in the defaults.
//
// Immutable after Parse; safe to read from many threads.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

namespace quantd::engine::methods {

enum class ParamType { kNumber, kInteger, kBool };

struct ParamSpec {
  std::string key;
  ParamType type = ParamType::kNumber;
  // Inclusive bounds for numbers and integers.
  double min_value = 0.0;
  double max_value = 0.0;
  // The value used when the key is absent; null means "no default" (the
  // key is optional and Has() reports whether it was given).
  nlohmann::json default_value;
  // One line for docs and error messages.
  std::string help;
};

class MethodParams {
 public:
  MethodParams() = default;

  // Validates `object` (an object or null) against `specs`. Throws
  // ParamError whose field is "method_params.<key>", or "method_params"
  // when `object` is not an object.
  static MethodParams Parse(const nlohmann::json& object,
                            std::span<const ParamSpec> specs);

  bool Has(std::string_view key) const;
  // Throw ParamError when the key is absent (no value, no default).
  double Number(std::string_view key) const;
  int64_t Integer(std::string_view key) const;
  bool Bool(std::string_view key) const;

  // Every key with a value, defaults included (for reports and hashing).
  const nlohmann::json& values() const { return values_; }

 private:
  const nlohmann::json& Get(std::string_view key) const;

  nlohmann::json values_ = nlohmann::json::object();
};

}  // namespace quantd::engine::methods
