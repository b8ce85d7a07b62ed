// The method catalogue: every quantization method by name, with every
// `method_params` key it takes (type, range, default, one line of help)
// and its cross-checks against the scheme. One source of truth: quantd
// validates method and method_params at submit with it (INVALID_ARGUMENT
// naming method_params.<key>), quantctl lists it, and quantd-engine's
// registry binds each entry to its implementation (one catalogue entry and
// one method file make a method). docs/ALGORITHMS.md explains the methods.
//
// Plain values and functions; no LibTorch, gRPC or protobuf. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "contract/scheme_preset.h"

namespace quantd::contract {

enum class ParamType { kNumber, kInteger, kBool };

// A checked parameter value: bool, integer or number as its spec says.
using ParamValue = std::variant<bool, int64_t, double>;

struct ParamSpec {
  std::string key;
  ParamType type = ParamType::kNumber;
  // Inclusive bounds for numbers and integers.
  double min_value = 0.0;
  double max_value = 0.0;
  // The value when the key is absent; nullopt: optional without a default
  // (the method then decides, and says how in `help`).
  std::optional<ParamValue> default_value;
  std::string help;  // One line for docs and error messages.
};

struct RawMember;

// A value as a client sent it, before checking: JSON's kinds.
struct RawParam {
  enum class Kind { kBool, kNumber, kOther, kObject };
  Kind kind = Kind::kOther;
  bool boolean = false;
  double number = 0.0;
  std::string text;  // The value as written, for messages.
  // An object's members (a recipe's per-stage parameters), in order.
  std::vector<RawMember> members;
};

// One member of an object value. (Not a std::pair: a pair holding the
// type being defined does not compile with every standard library.)
struct RawMember {
  std::string key;
  RawParam value;
};

// Checked parameters: every key with a value, defaults included.
using ParamValues = std::map<std::string, ParamValue, std::less<>>;

// What the cross-checks see of the job's effective scheme.
struct SchemeFacts {
  std::string name;  // "w4a16-g128", "custom"
  TensorScheme weights;
  TensorScheme activations;
};

// What a method does as a stage of a recipe (contract/recipe.h).
enum class StageRole {
  // Equivalent transformations; the weights are then rounded by the
  // recipe's rounding stage (RTN when there is none).
  kTransform,
  // Rounds the weights; a recipe's last stage.
  kRounding,
  // Its own transformation and rounding together: runs alone.
  kStandalone,
};

struct MethodEntry {
  std::string name;               // "rtn", "smoothquant", "osplus", "gptq", ...
  std::string summary;            // One line.
  std::vector<ParamSpec> params;  // The common ones included.
  // Throws ContractError naming method_params.<key>; may be null.
  void (*check)(const ParamValues& values, const SchemeFacts& scheme) = nullptr;
  StageRole role = StageRole::kTransform;
};

// Every method, in a fixed order.
std::span<const MethodEntry> MethodCatalogue();
// Null for an unknown name.
const MethodEntry* FindMethodEntry(std::string_view name);
// "rtn, smoothquant, os, osplus, omniquant, gptq, awq": the catalogue's
// order.
std::string MethodNames();
// Whether every method takes `key` (batch_size): a recipe gives these once,
// for all its stages.
bool IsCommonParam(std::string_view key);

// Checks `method` and `params` (a JSON object's members; `params_is_object`
// false when method_params was given as something else) against the
// catalogue and the scheme, fills the defaults. Throws ContractError whose
// field is "method" (unknown method), "method_params" (not an object) or
// "method_params.<key>" (unknown key, wrong type, out of range, a
// cross-check).
ParamValues CheckMethodParams(
    std::string_view method,
    const std::vector<std::pair<std::string, RawParam>>& params,
    const SchemeFacts& scheme, bool params_is_object = true);
// The same for a catalogue entry, with `field` ("method_params" or, in a
// recipe, "method_params.<stage>") as the prefix of the fields it names.
ParamValues CheckEntryParams(
    const MethodEntry& entry,
    const std::vector<std::pair<std::string, RawParam>>& params,
    const SchemeFacts& scheme, const std::string& field);

}  // namespace quantd::contract
