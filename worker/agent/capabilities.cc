#include "worker/agent/capabilities.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "worker/agent/command_output.h"
#include "worker/agent/json_fields.h"

namespace quantd::agent {
namespace {

using Json = nlohmann::json;

absl::StatusOr<quantd::v1::Device> ParseDevice(const Json& object,
                                               size_t index) {
  const std::string where = absl::StrCat("devices[", index, "]");
  if (!object.is_object()) return InvalidFieldError(where, "must be an object");
  JsonFields fields(object, where);
  quantd::v1::Device device;
  QUANTD_ASSIGN_OR_RETURN(*device.mutable_name(), fields.String("name"));
  QUANTD_ASSIGN_OR_RETURN(*device.mutable_model(), fields.String("model"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t memory,
                          fields.Unsigned("memory_bytes"));
  device.set_memory_bytes(memory);
  if (device.name().empty()) {
    return InvalidFieldError(absl::StrCat(where, ".name"), "is required");
  }
  return device;
}

absl::Status ParseMethods(const JsonFields& fields,
                          quantd::v1::WorkerCapabilities& capabilities) {
  QUANTD_ASSIGN_OR_RETURN(const Json* methods, fields.Array("methods"));
  if (methods == nullptr) return absl::OkStatus();
  for (size_t i = 0; i < methods->size(); ++i) {
    const Json& method = (*methods)[i];
    if (!method.is_string()) {
      return InvalidFieldError(absl::StrCat("methods[", i, "]"),
                               "must be a string");
    }
    capabilities.add_methods(method.get<std::string>());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<quantd::v1::WorkerCapabilities> ParseProbeOutput(
    absl::string_view json) {
  const Json object = Json::parse(json.begin(), json.end(), nullptr,
                                  /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return absl::InvalidArgumentError("engine probe: not a JSON object");
  }
  JsonFields fields(object, "probe");
  quantd::v1::WorkerCapabilities capabilities;
  QUANTD_ASSIGN_OR_RETURN(*capabilities.mutable_engine_version(),
                          fields.String("engine_version"));
  QUANTD_ASSIGN_OR_RETURN(const uint64_t host_memory,
                          fields.Unsigned("host_memory_bytes"));
  capabilities.set_host_memory_bytes(host_memory);
  QUANTD_ASSIGN_OR_RETURN(const Json* devices, fields.Array("devices"));
  for (size_t i = 0; devices != nullptr && i < devices->size(); ++i) {
    QUANTD_ASSIGN_OR_RETURN(*capabilities.add_devices(),
                            ParseDevice((*devices)[i], i));
  }
  QUANTD_RETURN_IF_ERROR(ParseMethods(fields, capabilities));
  capabilities.set_max_concurrent_jobs(1);
  return capabilities;
}

absl::StatusOr<quantd::v1::WorkerCapabilities> ProbeEngine(
    const std::string& engine_path, absl::Duration timeout) {
  QUANTD_ASSIGN_OR_RETURN(const std::string output,
                          CommandOutput({engine_path, "probe"}, timeout));
  return ParseProbeOutput(output);
}

absl::StatusOr<uint64_t> ParseNvidiaSmiMemoryUsed(absl::string_view output) {
  uint64_t total_mib = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    uint64_t mib = 0;
    if (!absl::SimpleAtoi(line, &mib) || mib > (uint64_t{1} << 40)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nvidia-smi: unexpected memory.used value \"", line, "\""));
    }
    total_mib += mib;
  }
  return total_mib << 20;
}

absl::StatusOr<uint64_t> QueryDeviceMemoryUsed(const std::string& nvidia_smi) {
  QUANTD_ASSIGN_OR_RETURN(const std::string output,
                          CommandOutput({nvidia_smi, "--query-gpu=memory.used",
                                         "--format=csv,noheader,nounits"},
                                        absl::Seconds(10)));
  return ParseNvidiaSmiMemoryUsed(output);
}

}  // namespace quantd::agent
