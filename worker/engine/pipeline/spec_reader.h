// Internals of the JobSpec parser: SpecReader walks one JSON object of the
// spec under its dotted path, rejecting unknown keys and wrong types with a
// SpecError naming the field; ParseSchemeSpec resolves `scheme` (preset
// plus explicit overrides) into quant configs.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "worker/engine/pipeline/job_spec.h"

namespace quantd::engine::pipeline::internal {

class SpecReader {
 public:
  // `object` must be a JSON object (or null, read as empty); every key must
  // be one of `known`.
  SpecReader(const nlohmann::json& object, std::string path,
             std::initializer_list<std::string_view> known);

  bool Has(std::string_view key) const;
  std::string Field(std::string_view key) const;

  // Absent (or null) keys give nullopt / the fallback.
  std::optional<std::string> String(std::string_view key) const;
  std::optional<bool> Bool(std::string_view key) const;
  // A number (proto3 JSON may write "NaN" or "Infinity" as strings: those
  // are refused as non-numbers).
  std::optional<double> Number(std::string_view key) const;
  // A number or a decimal string (proto3 JSON writes 64-bit ints so),
  // checked against [min, max].
  std::optional<int64_t> Integer(std::string_view key, int64_t min,
                                 int64_t max) const;
  std::optional<uint64_t> Unsigned(std::string_view key) const;
  // A nested object; null when absent. Throws when present but not one.
  const nlohmann::json* Object(std::string_view key) const;
  const nlohmann::json* Array(std::string_view key) const;
  // An enum: its full proto name ("GRANULARITY_PER_TOKEN"), the name
  // without `prefix` in any case ("per_token"), or its number. Returns the
  // index into `names` (names[0] is the UNSPECIFIED value).
  std::optional<int> Enum(std::string_view key, std::string_view prefix,
                          std::initializer_list<std::string_view> names) const;

 private:
  const nlohmann::json* Value(std::string_view key) const;

  nlohmann::json object_;  // A copy: specs are small, and callers pass
                           // temporaries.
  std::string path_;
};

// "problem" out of "anything: problem" (messages of quant::ConfigError and
// methods::ParamError carry their own field prefix).
std::string ProblemOf(const std::string& message);

quant::QuantScheme ParseSchemeSpec(const nlohmann::json& scheme);

}  // namespace quantd::engine::pipeline::internal
