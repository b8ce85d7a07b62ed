// Validation and normalisation of a submitted JobSpec. Every error is
// InvalidArgument "field: reason" naming the offending field by its dotted
// path (e.g. "scheme.weights.bits: must be in 2..8, got 12"). The scheme is
// checked through its expansion (contract/scheme_preset.h) and each export
// format against it and the model (contract/export_format.h). The returned
// spec keeps the scheme as submitted and has the server defaults filled in.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "contract/export_format.h"
#include "quantd/v1/types.pb.h"
#include "server/scheduler/model_inspector.h"

namespace quantd::scheduler {

struct ValidationContext {
  const AllowedRoots* roots = nullptr;
  // The file of an uploaded blob (by hex digest), or nullopt when the blob
  // is not stored.
  std::function<std::optional<std::string>(const std::string& hex)> blob_path;
  int64_t now_ms = 0;
};

struct ValidatedSpec {
  quantd::v1::JobSpec spec;
  ModelInfo model;
  // Hex digests of the uploaded blobs the spec uses.
  std::vector<std::string> input_blobs;
};

[[nodiscard]] absl::StatusOr<ValidatedSpec> ValidateSpec(
    const quantd::v1::JobSpec& spec, const ValidationContext& context);

// Expands a preset name ("w4a16-g128") into `scheme`'s weights and
// activations by contract::ParseSchemePreset, the mapping the engine runs;
// InvalidArgument naming scheme.preset for a malformed one.
[[nodiscard]] absl::Status ExpandPreset(const std::string& preset,
                                        quantd::v1::QuantScheme& scheme);

// The preset's expansion with the explicit fields applied over it: what the
// scheduler validates. The stored spec keeps the scheme as submitted (the
// engine expands the preset itself, from the same contract/ mapping).
[[nodiscard]] absl::StatusOr<quantd::v1::QuantScheme> EffectiveScheme(
    const quantd::v1::QuantScheme& scheme);

// The contract's export format of the proto value, matched by its
// proto_name; nullopt for EXPORT_FORMAT_UNSPECIFIED or an unknown value.
std::optional<contract::ExportFormat> ContractExportFormat(
    quantd::v1::ExportFormat format);

// Label value for metrics: the weight bit width, or "fp".
std::string WeightBitsLabel(const quantd::v1::JobSpec& spec);

}  // namespace quantd::scheduler
