// The capabilities a worker registers with, from `quantd-engine probe`
// (one JSON object on stdout: devices with their memory, host memory,
// engine version, methods), and the device memory in use, from nvidia-smi
// when the host has one.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "quantd/v1/worker.pb.h"

namespace quantd::agent {

// Parses the probe's JSON. Unknown fields are ignored; a known field of the
// wrong type is an InvalidArgument naming it.
[[nodiscard]] absl::StatusOr<quantd::v1::WorkerCapabilities> ParseProbeOutput(
    absl::string_view json);

// Runs `<engine_path> probe` and parses its output.
[[nodiscard]] absl::StatusOr<quantd::v1::WorkerCapabilities> ProbeEngine(
    const std::string& engine_path, absl::Duration timeout);

// Sums the "memory.used" column of `nvidia-smi
// --query-gpu=memory.used --format=csv,noheader,nounits` (MiB, one GPU a
// line) into bytes.
[[nodiscard]] absl::StatusOr<uint64_t> ParseNvidiaSmiMemoryUsed(
    absl::string_view output);

// Runs nvidia-smi (`nvidia_smi` is its path or name) for the device memory
// in use, in bytes.
[[nodiscard]] absl::StatusOr<uint64_t> QueryDeviceMemoryUsed(
    const std::string& nvidia_smi);

}  // namespace quantd::agent
