// Short names for the API's enums as quantctl prints and parses them:
// JOB_STATE_SUCCEEDED <-> "SUCCEEDED", GRANULARITY_PER_GROUP <-> "group",
// EXPORT_FORMAT_PACKED_INT <-> "packed". Parsing is case-insensitive and
// accepts the full enum name too. Export format names are the contract's
// (contract/export_format.h), shared with quantd and the engine.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

// "QUEUED", "LEASED", ..., "UNSPECIFIED".
std::string StateName(quantd::v1::JobState state);
// InvalidArgument naming `flag` for an unknown state.
[[nodiscard]] absl::StatusOr<quantd::v1::JobState> ParseState(
    absl::string_view text, absl::string_view flag);
bool IsTerminal(quantd::v1::JobState state);

// "tensor", "channel", "token", "group"; "" for unspecified.
std::string GranularityName(quantd::v1::Granularity granularity);
[[nodiscard]] absl::StatusOr<quantd::v1::Granularity> ParseGranularity(
    absl::string_view text, absl::string_view flag);

// "hf", "packed", "compressed-tensors", "gguf": the contract's cli_name;
// "" for unspecified. Parsing also takes the contract's aliases
// ("hf_safetensors", "compressed_tensors", ...) and the full enum name.
std::string ExportFormatName(quantd::v1::ExportFormat format);
[[nodiscard]] absl::StatusOr<quantd::v1::ExportFormat> ParseExportFormat(
    absl::string_view text, absl::string_view flag);

// google.rpc.Code name of a numeric code ("INVALID_ARGUMENT"), or the
// number when unknown.
std::string CodeName(int code);

}  // namespace quantd::client
