// How engine events become quantd.v1.JobEvents for ReportEvents, and which
// of them may be dropped when the worker falls behind.
#pragma once

#include <optional>

#include "quantd/v1/types.pb.h"
#include "worker/agent/engine_event.h"

namespace quantd::agent {

// The JobEvent to report for `event` (without job id, sequence and time:
// the scheduler assigns those): state "running" -> a LEASED -> RUNNING
// state change, progress -> Progress, log -> LogLine. Nothing for the
// others: files are uploaded, results and errors end the job through
// CompleteJob, and unknown types are ignored.
std::optional<quantd::v1::JobEvent> ToJobEvent(const EngineEvent& event);

// Whether losing `event` only costs detail: progress (a later one
// supersedes it) and debug/info log lines. States, files, results, errors
// and warnings are never dropped.
bool IsDroppable(const EngineEvent& event);

}  // namespace quantd::agent
