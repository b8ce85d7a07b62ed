// Validation and normalisation of a submitted JobSpec. Every error is
// InvalidArgument "field: reason" naming the offending field by its dotted
// path (e.g. "scheme.weights.bits: must be in 2..8, got 12"). The scheme is
// resolved by the contract's rule (contract/scheme_request.h), method_params
// checked against the catalogue (contract/method_catalogue.h) and each export
// format against the scheme and the model (contract/export_format.h). The
// returned spec keeps the scheme as submitted and has the server defaults
// filled in.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "contract/export_format.h"
#include "contract/scheme_request.h"
#include "quantd/v1/types.pb.h"
#include "server/scheduler/model_inspector.h"

namespace quantd::scheduler {

// Reads a model's shape from a resolved path (InspectModel's signature).
using ModelInspector = std::function<absl::StatusOr<ModelInfo>(
    const std::string& path, const std::string& field)>;

struct ValidationContext {
  const AllowedRoots* roots = nullptr;
  // The file of an uploaded blob (by hex digest), or nullopt when the blob
  // is not stored.
  std::function<std::optional<std::string>(const std::string& hex)> blob_path;
  int64_t now_ms = 0;
  ModelInspector inspect_model = InspectModel;
};

struct ValidatedSpec {
  quantd::v1::JobSpec spec;
  ModelInfo model;
  // Hex digests of the uploaded blobs the spec uses.
  std::vector<std::string> input_blobs;
};

[[nodiscard]] absl::StatusOr<ValidatedSpec> ValidateSpec(
    const quantd::v1::JobSpec& spec, const ValidationContext& context);

// The scheme the engine will run: the preset's expansion with the explicit
// fields over it, by the contract's rule (contract/scheme_request.h), which
// the engine applies to the stored spec again. InvalidArgument naming the
// field ("scheme", "scheme.preset", "scheme.weights.bits", ...).
[[nodiscard]] absl::StatusOr<contract::SchemePreset> ResolveSpecScheme(
    const quantd::v1::QuantScheme& scheme);

// The contract's export format of the proto value, matched by its
// proto_name; nullopt for EXPORT_FORMAT_UNSPECIFIED or an unknown value.
std::optional<contract::ExportFormat> ContractExportFormat(
    quantd::v1::ExportFormat format);

// Label value for metrics: the weight bit width, or "fp".
std::string WeightBitsLabel(const quantd::v1::JobSpec& spec);

}  // namespace quantd::scheduler
