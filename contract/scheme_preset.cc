#include "contract/scheme_preset.h"

#include <cctype>
#include <charconv>
#include <string>
#include <system_error>

#include "contract/contract_error.h"

namespace quantd::contract {
namespace {

[[noreturn]] void Fail(const char* field, std::string_view scheme,
                       const std::string& problem) {
  throw ContractError(field,
                      "scheme '" + std::string(scheme) + "': " + problem);
}

// Parses the whole of `digits` as a non-negative integer; false when it is
// empty, has any other character, or overflows.
bool ParseWholeNumber(std::string_view digits, int64_t& value) {
  if (digits.empty()) return false;
  const char* end = digits.data() + digits.size();
  const auto result = std::from_chars(digits.data(), end, value);
  return result.ec == std::errc() && result.ptr == end && value >= 0;
}

// Reads the digits starting at `pos`, advancing it.
std::string_view TakeDigits(std::string_view text, size_t& pos) {
  const size_t start = pos;
  while (pos < text.size() &&
         std::isdigit(static_cast<unsigned char>(text[pos]))) {
    ++pos;
  }
  return text.substr(start, pos - start);
}

struct ParsedName {
  int64_t weight_bits = 0;
  int64_t activation_bits = 0;
  bool per_tensor = false;
  bool has_group = false;
  int64_t group_size = 0;
};

void ParseSuffix(std::string_view suffix, std::string_view scheme,
                 ParsedName& parsed) {
  if (suffix == "pt") {
    if (parsed.per_tensor) Fail("scheme", scheme, "'-pt' given twice");
    parsed.per_tensor = true;
    return;
  }
  if (suffix.empty() || suffix[0] != 'g') {
    Fail("scheme", scheme,
         "unknown suffix '-" + std::string(suffix) +
             "' (expected -pt or -g<N>)");
  }
  if (parsed.has_group) Fail("scheme", scheme, "'-g' given twice");
  const std::string_view digits = suffix.substr(1);
  if (!ParseWholeNumber(digits, parsed.group_size)) {
    Fail("group_size", scheme,
         "group size '" + std::string(digits) + "' is not a positive integer");
  }
  if (parsed.group_size == 0) {
    Fail("group_size", scheme, "group size must be > 0, got 0");
  }
  parsed.has_group = true;
}

ParsedName ParseName(std::string_view lower, std::string_view scheme) {
  ParsedName parsed;
  size_t pos = 0;
  if (lower.empty() || lower[pos++] != 'w') {
    Fail("scheme", scheme, "expected w<bits>a<bits>[-pt][-g<N>]");
  }
  if (!ParseWholeNumber(TakeDigits(lower, pos), parsed.weight_bits) ||
      pos >= lower.size() || lower[pos++] != 'a' ||
      !ParseWholeNumber(TakeDigits(lower, pos), parsed.activation_bits)) {
    Fail("scheme", scheme, "expected w<bits>a<bits>[-pt][-g<N>]");
  }
  while (pos < lower.size()) {
    if (lower[pos] != '-') {
      Fail(
          "scheme", scheme,
          "unexpected '" + std::string(lower.substr(pos)) + "' after the bits");
    }
    const size_t next = lower.find('-', pos + 1);
    const size_t end = next == std::string_view::npos ? lower.size() : next;
    ParseSuffix(lower.substr(pos + 1, end - pos - 1), scheme, parsed);
    pos = end;
  }
  return parsed;
}

void CheckName(const ParsedName& parsed, std::string_view scheme) {
  if (parsed.weight_bits < 2 || parsed.weight_bits > 8) {
    Fail("weight_bits", scheme,
         "weight bits " + std::to_string(parsed.weight_bits) +
             " out of range [2, 8]");
  }
  const bool act_ok =
      (parsed.activation_bits >= 2 && parsed.activation_bits <= 8) ||
      parsed.activation_bits == kUnquantizedBits;
  if (!act_ok) {
    Fail("activation_bits", scheme,
         "activation bits " + std::to_string(parsed.activation_bits) +
             " out of range [2, 8] (or 16 for unquantized)");
  }
  if (parsed.per_tensor && parsed.activation_bits == kUnquantizedBits) {
    Fail("scheme", scheme, "'-pt' needs quantized activations, not a16");
  }
  if (parsed.per_tensor && parsed.has_group) {
    Fail("scheme", scheme, "'-pt' and '-g<N>' cannot be combined");
  }
}

TensorScheme WeightScheme(const ParsedName& parsed, bool symmetric) {
  TensorScheme weights;
  weights.enabled = true;
  weights.bits = static_cast<int>(parsed.weight_bits);
  weights.symmetric = symmetric;
  weights.granularity = Granularity::kPerChannel;
  if (parsed.has_group) {
    weights.granularity = Granularity::kPerGroup;
    weights.group_size = parsed.group_size;
  } else if (parsed.per_tensor && symmetric) {
    weights.granularity = Granularity::kPerTensor;  // INT8*.
  }
  return weights;
}

TensorScheme ActivationScheme(const ParsedName& parsed, bool symmetric) {
  TensorScheme activations;
  if (parsed.activation_bits == kUnquantizedBits) return activations;
  activations.enabled = true;
  activations.bits = static_cast<int>(parsed.activation_bits);
  activations.symmetric = symmetric;
  if (parsed.per_tensor) {
    activations.granularity = Granularity::kPerTensor;
    activations.observer = "avg_minmax";
  } else if (parsed.has_group) {
    activations.granularity = Granularity::kPerGroup;
    activations.group_size = parsed.group_size;
    activations.dynamic = true;
  } else {
    activations.granularity = Granularity::kPerToken;
    activations.dynamic = true;
  }
  return activations;
}

}  // namespace

SchemePreset ParseSchemePreset(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const ParsedName parsed = ParseName(lower, text);
  CheckName(parsed, text);

  // Symmetric only for 8-bit weights with 8-bit activations (see header).
  const bool symmetric = parsed.weight_bits == 8 && parsed.activation_bits == 8;
  SchemePreset preset;
  preset.name = "w" + std::to_string(parsed.weight_bits) + "a" +
                std::to_string(parsed.activation_bits) +
                (parsed.per_tensor ? "-pt" : "");
  if (parsed.has_group) preset.name += "-g" + std::to_string(parsed.group_size);
  preset.weight_bits = static_cast<int>(parsed.weight_bits);
  preset.activation_bits = static_cast<int>(parsed.activation_bits);
  preset.group_size = parsed.group_size;
  preset.per_tensor_activations = parsed.per_tensor;
  preset.weights = WeightScheme(parsed, symmetric);
  preset.activations = ActivationScheme(parsed, symmetric);
  return preset;
}

const char* GranularityName(Granularity granularity) {
  switch (granularity) {
    case Granularity::kPerTensor:
      return "per_tensor";
    case Granularity::kPerChannel:
      return "per_channel";
    case Granularity::kPerToken:
      return "per_token";
    case Granularity::kPerGroup:
      return "per_group";
  }
  return "unknown";
}

}  // namespace quantd::contract
