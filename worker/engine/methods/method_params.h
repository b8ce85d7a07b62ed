// MethodParams: the validated `method_params` object of a job spec, as
// contract/method_catalogue.h checked it (every key the method takes, its
// type and range, the defaults filled in); registry.h's ParseMethodParams
// builds it. Typed getters for the method implementations.
//
// Immutable once built; safe to read from many threads.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "contract/method_catalogue.h"

namespace quantd::engine::methods {

class MethodParams {
 public:
  MethodParams() = default;
  explicit MethodParams(const contract::ParamValues& values);

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

// The members of a JSON method_params object as the contract reads them
// (empty for null or a non-object; nested objects, a recipe's per-stage
// parameters, with their members).
std::vector<std::pair<std::string, contract::RawParam>> RawParamsOf(
    const nlohmann::json& object);

}  // namespace quantd::engine::methods
