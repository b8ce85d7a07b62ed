// `quantd-engine probe`: the capabilities a worker registers with — devices
// and their memory, host memory, engine and LibTorch versions, methods — as
// one JSON object on stdout.
#pragma once

#include <nlohmann/json.hpp>

namespace quantd::engine::cli {

nlohmann::json ProbeCapabilities();

}  // namespace quantd::engine::cli
