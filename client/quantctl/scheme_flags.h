// Builds a QuantScheme from quantctl's scheme flags: a preset (--scheme)
// and/or explicit settings (--w-bits, --a-bits, --w-granularity,
// --a-granularity, --group-size, --symmetric, --dynamic, observers), which
// override the preset's, as the API defines.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

// Flag values as typed; an empty string means the flag was not given.
struct SchemeFlags {
  std::string preset;
  std::string weight_bits;
  std::string activation_bits;
  std::string weight_granularity;
  std::string activation_granularity;
  std::string group_size;
  std::string weight_observer;
  std::string activation_observer;
  bool symmetric = false;
  bool dynamic = false;
};

// InvalidArgument naming the flag at fault: a preset the contract's grammar
// refuses (contract/scheme_preset.h), bits outside 2..8, per-token weights,
// a group size without per-group weights, or neither a preset nor --w-bits.
[[nodiscard]] absl::StatusOr<quantd::v1::QuantScheme> BuildScheme(
    const SchemeFlags& flags);

// "w8a8", "w4a16-g128": the preset when set, else a name built from the
// explicit settings ("w4a8-g64").
std::string SchemeSummary(const quantd::v1::QuantScheme& scheme);

}  // namespace quantd::client
