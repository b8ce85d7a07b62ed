// The three output formats of quantctl (--output table|json|yaml) and the
// YAML rendering of the JSON documents, so both machine formats carry
// exactly the same schema.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace quantd::client {

enum class OutputFormat { kTable, kJson, kYaml };

[[nodiscard]] absl::StatusOr<OutputFormat> ParseOutputFormat(
    absl::string_view text);

// Block-style YAML of a JSON value; strings are quoted where YAML would
// otherwise read them as another type ("true", "1.0", "null"). Ends with
// '\n'.
std::string JsonToYaml(const nlohmann::json& value);

// The document in `format` (kJson: pretty-printed, 2-space indent; kYaml:
// JsonToYaml), ending with '\n'. kTable is the caller's job and returns "".
std::string RenderDocument(const nlohmann::json& value, OutputFormat format);

}  // namespace quantd::client
