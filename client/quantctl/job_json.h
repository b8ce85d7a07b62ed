// The JSON documents of `--output json` (and, rendered as YAML, of
// `--output yaml`). Their shape is the CLI's stable schema, documented in
// docs/CLI.md: fields are only ever added, never renamed or removed.
// States are short upper-case names ("SUCCEEDED"), times RFC 3339 strings
// (null when unset), sizes plain integers of bytes.
#pragma once

#include "nlohmann/json.hpp"
#include "quantd/v1/jobs.pb.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

nlohmann::json JobToJson(const quantd::v1::Job& job);
nlohmann::json ResultToJson(const quantd::v1::JobResult& result);
nlohmann::json ArtifactToJson(const quantd::v1::Artifact& artifact);
nlohmann::json ErrorToJson(const quantd::v1::ErrorInfo& error);
nlohmann::json ProgressToJson(const quantd::v1::Progress& progress);
// {"sequence", "time", "type": "state_change"|"progress"|"log"|"artifact"|
// "terminal", and the fields of that kind}.
nlohmann::json EventToJson(const quantd::v1::JobEvent& event);
nlohmann::json WorkerToJson(const quantd::v1::WorkerInfo& worker);

// The relative change from `fp` to `quantized` in percent; nullopt-like
// null when fp is 0.
nlohmann::json DeltaPercent(double fp, double quantized);

}  // namespace quantd::client
