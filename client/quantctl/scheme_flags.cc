#include "client/quantctl/scheme_flags.h"

#include "absl/strings/str_cat.h"
#include "client/quantctl/flag_values.h"
#include "client/quantctl/proto_names.h"
#include "common/status.h"
#include "contract/contract_error.h"
#include "contract/scheme_preset.h"

namespace quantd::client {
namespace {

constexpr int64_t kMinBits = 2;
constexpr int64_t kMaxBits = 8;
constexpr int64_t kMaxGroupSize = 1 << 16;

// Whether the preset quantizes activations; InvalidArgument naming
// --scheme for a name the contract's grammar refuses, the check that quantd
// and the engine make too.
absl::StatusOr<bool> PresetQuantizesActivations(const std::string& preset) {
  try {
    return contract::ParseSchemePreset(preset).activations.enabled;
  } catch (const contract::ContractError& error) {
    return InvalidFieldError("--scheme", error.what());
  }
}

absl::Status FillWeights(const SchemeFlags& flags,
                         quantd::v1::TensorQuant* weights) {
  if (!flags.weight_bits.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t bits,
        ParseIntFlag(flags.weight_bits, "--w-bits", kMinBits, kMaxBits));
    weights->set_bits(static_cast<uint32_t>(bits));
  }
  if (!flags.weight_granularity.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        auto granularity,
        ParseGranularity(flags.weight_granularity, "--w-granularity"));
    if (granularity == quantd::v1::GRANULARITY_PER_TOKEN) {
      return InvalidFieldError("--w-granularity",
                               "per-token applies to activations only");
    }
    weights->set_granularity(granularity);
  }
  if (!flags.group_size.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t size,
        ParseIntFlag(flags.group_size, "--group-size", 1, kMaxGroupSize));
    if (weights->granularity() == quantd::v1::GRANULARITY_UNSPECIFIED) {
      weights->set_granularity(quantd::v1::GRANULARITY_PER_GROUP);
    }
    if (weights->granularity() != quantd::v1::GRANULARITY_PER_GROUP) {
      return InvalidFieldError(
          "--group-size", "needs per-group weights (--w-granularity group)");
    }
    weights->set_group_size(static_cast<uint32_t>(size));
  }
  weights->set_observer(flags.weight_observer);
  return absl::OkStatus();
}

absl::Status FillActivations(const SchemeFlags& flags,
                             quantd::v1::TensorQuant* activations) {
  if (!flags.activation_bits.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        int64_t bits,
        ParseIntFlag(flags.activation_bits, "--a-bits", kMinBits, kMaxBits));
    activations->set_bits(static_cast<uint32_t>(bits));
  }
  if (!flags.activation_granularity.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        auto granularity,
        ParseGranularity(flags.activation_granularity, "--a-granularity"));
    if (granularity == quantd::v1::GRANULARITY_PER_GROUP) {
      return InvalidFieldError("--a-granularity",
                               "per-group applies to weights only");
    }
    activations->set_granularity(granularity);
  }
  activations->set_dynamic(flags.dynamic);
  activations->set_observer(flags.activation_observer);
  return absl::OkStatus();
}

bool HasWeightFlags(const SchemeFlags& flags) {
  return !flags.weight_bits.empty() || !flags.weight_granularity.empty() ||
         !flags.group_size.empty() || !flags.weight_observer.empty() ||
         flags.symmetric;
}

bool HasActivationFlags(const SchemeFlags& flags) {
  return !flags.activation_bits.empty() ||
         !flags.activation_granularity.empty() ||
         !flags.activation_observer.empty() || flags.dynamic;
}

}  // namespace

absl::StatusOr<quantd::v1::QuantScheme> BuildScheme(const SchemeFlags& flags) {
  quantd::v1::QuantScheme scheme;
  bool preset_activations = false;
  if (!flags.preset.empty()) {
    QUANTD_ASSIGN_OR_RETURN(preset_activations,
                            PresetQuantizesActivations(flags.preset));
    scheme.set_preset(flags.preset);
  } else if (flags.weight_bits.empty()) {
    return InvalidFieldError("--scheme",
                             "give a preset (e.g. w8a8) or explicit --w-bits");
  }
  if (HasWeightFlags(flags)) {
    QUANTD_RETURN_IF_ERROR(FillWeights(flags, scheme.mutable_weights()));
    scheme.mutable_weights()->set_symmetric(flags.symmetric);
    scheme.mutable_weights()->set_enabled(true);
  }
  const bool activations_quantized =
      HasActivationFlags(flags) || preset_activations;
  if (HasActivationFlags(flags) || (flags.symmetric && activations_quantized)) {
    QUANTD_RETURN_IF_ERROR(
        FillActivations(flags, scheme.mutable_activations()));
    scheme.mutable_activations()->set_symmetric(flags.symmetric);
    scheme.mutable_activations()->set_enabled(true);
  }
  return scheme;
}

std::string SchemeSummary(const quantd::v1::QuantScheme& scheme) {
  // The server resolves a preset into explicit settings, so explicit
  // fields beside a preset do not mean the user overrode it.
  if (!scheme.preset().empty()) return scheme.preset();
  std::string name = absl::StrCat("w", scheme.weights().bits());
  const bool activations = scheme.activations().enabled();
  absl::StrAppend(&name, "a", activations ? scheme.activations().bits() : 16);
  if (scheme.weights().granularity() == quantd::v1::GRANULARITY_PER_GROUP) {
    absl::StrAppend(&name, "-g", scheme.weights().group_size());
  }
  return name;
}

}  // namespace quantd::client
