// The table printed when a waited-on job finishes: FP against quantized
// metric with the absolute and relative change, wall time, peak memory,
// and the artifacts; or the error of a failed or cancelled job.
#pragma once

#include <string>

#include "quantd/v1/jobs.pb.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

std::string RenderResult(const quantd::v1::JobResult& result);

// Header line with the job's id and final state, then RenderResult for
// SUCCEEDED or the error for FAILED and CANCELLED.
std::string RenderOutcome(const quantd::v1::Job& job);

}  // namespace quantd::client
