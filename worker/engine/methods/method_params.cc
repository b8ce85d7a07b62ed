#include "worker/engine/methods/method_params.h"

#include <c10/util/StringUtil.h>

#include <cmath>
#include <string>

#include "worker/engine/methods/method_error.h"

namespace quantd::engine::methods {
namespace {

std::string Field(std::string_view key) {
  return "method_params." + std::string(key);
}

std::string KnownKeys(std::span<const ParamSpec> specs) {
  std::string known;
  for (const ParamSpec& spec : specs) {
    known += known.empty() ? spec.key : ", " + spec.key;
  }
  return known.empty() ? "none" : known;
}

// The value converted to the spec's type, or a ParamError.
nlohmann::json CheckValue(const ParamSpec& spec, const nlohmann::json& value) {
  const std::string field = Field(spec.key);
  if (spec.type == ParamType::kBool) {
    if (!value.is_boolean()) {
      throw ParamError(field, "must be true or false, got " + value.dump());
    }
    return value;
  }
  if (!value.is_number()) {
    throw ParamError(field, "must be a number, got " + value.dump());
  }
  double number = value.get<double>();
  if (!std::isfinite(number)) {
    throw ParamError(field, "must be finite, got " + value.dump());
  }
  if (spec.type == ParamType::kInteger && number != std::floor(number)) {
    throw ParamError(field, "must be an integer, got " + value.dump());
  }
  if (number < spec.min_value || number > spec.max_value) {
    throw ParamError(field, c10::str("must be in [", spec.min_value, ", ",
                                     spec.max_value, "], got ", value.dump()));
  }
  if (spec.type == ParamType::kInteger) {
    return nlohmann::json(static_cast<int64_t>(number));
  }
  return nlohmann::json(number);
}

}  // namespace

MethodParams MethodParams::Parse(const nlohmann::json& object,
                                 std::span<const ParamSpec> specs) {
  MethodParams params;
  if (!object.is_null() && !object.is_object()) {
    throw ParamError("method_params",
                     "must be a JSON object, got " + object.dump());
  }
  if (object.is_object()) {
    for (const auto& [key, value] : object.items()) {
      bool known = false;
      for (const ParamSpec& spec : specs) known = known || spec.key == key;
      if (!known) {
        throw ParamError(Field(key), "unknown parameter (this method takes: " +
                                         KnownKeys(specs) + ")");
      }
    }
  }
  for (const ParamSpec& spec : specs) {
    if (object.is_object() && object.contains(spec.key)) {
      params.values_[spec.key] = CheckValue(spec, object.at(spec.key));
    } else if (!spec.default_value.is_null()) {
      params.values_[spec.key] = spec.default_value;
    }
  }
  return params;
}

bool MethodParams::Has(std::string_view key) const {
  return values_.contains(std::string(key));
}

const nlohmann::json& MethodParams::Get(std::string_view key) const {
  auto found = values_.find(std::string(key));
  if (found == values_.end()) {
    throw ParamError(Field(key), "required but not given");
  }
  return *found;
}

double MethodParams::Number(std::string_view key) const {
  return Get(key).get<double>();
}

int64_t MethodParams::Integer(std::string_view key) const {
  return Get(key).get<int64_t>();
}

bool MethodParams::Bool(std::string_view key) const {
  return Get(key).get<bool>();
}

}  // namespace quantd::engine::methods
