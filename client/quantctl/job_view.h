// The human (table) views of jobs: the one-line-per-job list, the detail
// view of `get`, and the short names used in both.
#pragma once

#include <string>
#include <vector>

#include "quantd/v1/jobs.pb.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

// "SmolLM2-135M-Instruct.Q4_1.gguf" for a file URI (its last component),
// "sha256:0123456789ab..." for a blob, "" when unset.
std::string ShortDataRef(const quantd::v1::DataRef& ref);

// What a job is doing or how it ended, in a few words: "quantize 12/30
// 40%", "perplexity 12.35 -> 12.68", "FAILED_PRECONDITION: ...".
std::string JobActivity(const quantd::v1::Job& job);

// ID  STATE  METHOD  SCHEME  MODEL  ACTIVITY  CREATED
std::string RenderJobsTable(const std::vector<quantd::v1::Job>& jobs);

// "Key: value" lines describing one job, then its result table or error.
std::string RenderJobDetail(const quantd::v1::Job& job);

}  // namespace quantd::client
