#include "worker/engine/quant/scheme.h"

#include <c10/util/StringUtil.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>

#include "worker/engine/quant/errors.h"

namespace quantd::engine::quant {
namespace {

constexpr int kUnquantizedBits = 16;

[[noreturn]] void Fail(const char* field, std::string_view scheme,
                       const std::string& problem) {
  throw ConfigError(field, c10::str("scheme '", scheme, "': ", problem));
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
         c10::str("unknown suffix '-", suffix, "' (expected -pt or -g<N>)"));
  }
  if (parsed.has_group) Fail("scheme", scheme, "'-g' given twice");
  const std::string_view digits = suffix.substr(1);
  if (!ParseWholeNumber(digits, parsed.group_size)) {
    Fail("group_size", scheme,
         c10::str("group size '", digits, "' is not a positive integer"));
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
      Fail("scheme", scheme,
           c10::str("unexpected '", lower.substr(pos), "' after the bits"));
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
         c10::str("weight bits ", parsed.weight_bits, " out of range [2, 8]"));
  }
  const bool act_ok =
      (parsed.activation_bits >= 2 && parsed.activation_bits <= 8) ||
      parsed.activation_bits == kUnquantizedBits;
  if (!act_ok) {
    Fail("activation_bits", scheme,
         c10::str("activation bits ", parsed.activation_bits,
                  " out of range [2, 8] (or 16 for unquantized)"));
  }
  if (parsed.per_tensor && parsed.activation_bits == kUnquantizedBits) {
    Fail("scheme", scheme, "'-pt' needs quantized activations, not a16");
  }
  if (parsed.per_tensor && parsed.has_group) {
    Fail("scheme", scheme, "'-pt' and '-g<N>' cannot be combined");
  }
}

QuantConfig WeightConfig(const ParsedName& parsed, bool symmetric) {
  QuantConfig weight;
  weight.bits = static_cast<int>(parsed.weight_bits);
  weight.symmetric = symmetric;
  weight.observer = ObserverKind::kMinMax;
  weight.granularity = Granularity::kPerChannel;
  if (parsed.has_group) {
    weight.granularity = Granularity::kPerGroup;
    weight.group_size = parsed.group_size;
  } else if (parsed.per_tensor && symmetric) {
    weight.granularity = Granularity::kPerTensor;  // INT8*.
  }
  return weight;
}

QuantConfig ActivationConfig(const ParsedName& parsed, bool symmetric) {
  QuantConfig activation;
  if (parsed.activation_bits == kUnquantizedBits) {
    activation.enabled = false;
    activation.bits = kUnquantizedBits;
    return activation;
  }
  activation.bits = static_cast<int>(parsed.activation_bits);
  activation.symmetric = symmetric;
  if (parsed.per_tensor) {
    activation.granularity = Granularity::kPerTensor;
    activation.dynamic = false;
    activation.observer = ObserverKind::kAvgMinMax;
  } else if (parsed.has_group) {
    activation.granularity = Granularity::kPerGroup;
    activation.group_size = parsed.group_size;
    activation.dynamic = true;
  } else {
    activation.granularity = Granularity::kPerToken;
    activation.dynamic = true;
  }
  return activation;
}

}  // namespace

QuantScheme ParseScheme(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  const ParsedName parsed = ParseName(lower, text);
  CheckName(parsed, text);

  // Symmetric only for 8-bit weights with 8-bit activations (see scheme.h).
  const bool symmetric = parsed.weight_bits == 8 && parsed.activation_bits == 8;
  QuantScheme scheme;
  scheme.name = c10::str("w", parsed.weight_bits, "a", parsed.activation_bits,
                         parsed.per_tensor ? "-pt" : "");
  if (parsed.has_group) scheme.name += c10::str("-g", parsed.group_size);
  scheme.weight_bits = static_cast<int>(parsed.weight_bits);
  scheme.activation_bits = static_cast<int>(parsed.activation_bits);
  scheme.group_size = parsed.group_size;
  scheme.per_tensor_activations = parsed.per_tensor;
  scheme.weight = WeightConfig(parsed, symmetric);
  scheme.activation = ActivationConfig(parsed, symmetric);
  ValidateQuantConfig(scheme.weight);
  ValidateQuantConfig(scheme.activation);
  return scheme;
}

}  // namespace quantd::engine::quant
