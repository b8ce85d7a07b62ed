#include "client/quantctl/proto_names.h"

#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "contract/export_format.h"

namespace quantd::client {
namespace {

// Finds `text` among `names` (short, lower-case) or as the full enum name
// `prefix` + upper-cased short name.
template <typename Enum>
absl::StatusOr<Enum> ParseEnum(
    absl::string_view text, absl::string_view flag, absl::string_view prefix,
    const std::vector<std::pair<std::string, Enum>>& names) {
  const std::string lower = absl::AsciiStrToLower(text);
  std::vector<std::string> accepted;
  for (const auto& [name, value] : names) {
    const std::string full = absl::StrCat(prefix, absl::AsciiStrToUpper(name));
    if (lower == name || absl::EqualsIgnoreCase(text, full)) return value;
    accepted.push_back(name);
  }
  return InvalidFieldError(
      flag, absl::StrCat("must be one of {", absl::StrJoin(accepted, ", "),
                         "}, got \"", text, "\""));
}

const std::vector<std::pair<std::string, quantd::v1::JobState>>& States() {
  static const auto* states =
      new std::vector<std::pair<std::string, quantd::v1::JobState>>{
          {"queued", quantd::v1::JOB_STATE_QUEUED},
          {"leased", quantd::v1::JOB_STATE_LEASED},
          {"running", quantd::v1::JOB_STATE_RUNNING},
          {"succeeded", quantd::v1::JOB_STATE_SUCCEEDED},
          {"failed", quantd::v1::JOB_STATE_FAILED},
          {"cancelled", quantd::v1::JOB_STATE_CANCELLED}};
  return *states;
}

const std::vector<std::pair<std::string, quantd::v1::Granularity>>&
Granularities() {
  static const auto* granularities =
      new std::vector<std::pair<std::string, quantd::v1::Granularity>>{
          {"tensor", quantd::v1::GRANULARITY_PER_TENSOR},
          {"channel", quantd::v1::GRANULARITY_PER_CHANNEL},
          {"token", quantd::v1::GRANULARITY_PER_TOKEN},
          {"group", quantd::v1::GRANULARITY_PER_GROUP}};
  return *granularities;
}

template <typename Enum>
std::string ShortName(Enum value,
                      const std::vector<std::pair<std::string, Enum>>& names) {
  for (const auto& [name, candidate] : names) {
    if (candidate == value) return name;
  }
  return "";
}

}  // namespace

std::string StateName(quantd::v1::JobState state) {
  const std::string name = ShortName(state, States());
  return name.empty() ? "UNSPECIFIED" : absl::AsciiStrToUpper(name);
}

absl::StatusOr<quantd::v1::JobState> ParseState(absl::string_view text,
                                                absl::string_view flag) {
  return ParseEnum(text, flag, "JOB_STATE_", States());
}

bool IsTerminal(quantd::v1::JobState state) {
  return state == quantd::v1::JOB_STATE_SUCCEEDED ||
         state == quantd::v1::JOB_STATE_FAILED ||
         state == quantd::v1::JOB_STATE_CANCELLED;
}

std::string GranularityName(quantd::v1::Granularity granularity) {
  return ShortName(granularity, Granularities());
}

absl::StatusOr<quantd::v1::Granularity> ParseGranularity(
    absl::string_view text, absl::string_view flag) {
  return ParseEnum(text, flag, "GRANULARITY_PER_", Granularities());
}

std::string ExportFormatName(quantd::v1::ExportFormat format) {
  const std::string& proto_name = quantd::v1::ExportFormat_Name(format);
  for (const contract::ExportFormatInfo& info : contract::ExportFormats()) {
    if (proto_name == info.proto_name) return info.cli_name;
  }
  return "";
}

absl::StatusOr<quantd::v1::ExportFormat> ParseExportFormat(
    absl::string_view text, absl::string_view flag) {
  const std::optional<contract::ExportFormat> format =
      contract::ParseExportFormat(std::string_view(text.data(), text.size()));
  quantd::v1::ExportFormat value = quantd::v1::EXPORT_FORMAT_UNSPECIFIED;
  if (!format.has_value() ||
      !quantd::v1::ExportFormat_Parse(contract::InfoOf(*format).proto_name,
                                      &value)) {
    return InvalidFieldError(
        flag, absl::StrCat("must be one of {", contract::ExportFormatCliNames(),
                           "}, got \"", text, "\""));
  }
  return value;
}

std::string CodeName(int code) {
  if (code < 0 || code > 16) return absl::StrCat(code);
  return absl::AsciiStrToUpper(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
}

}  // namespace quantd::client
