// Waits for a job to finish while showing its progress (`submit --wait`,
// `watch`): follows WatchJob across dropped streams, renders the events,
// then prints the outcome (result table, or the final Job document for
// JSON/YAML) and maps the final state to the exit code.
#pragma once

#include <cstdint>
#include <string>

#include "client/quantctl/command.h"

namespace quantd::client {

ExitCode WaitForJob(CommandContext& context, const std::string& job_id,
                    uint64_t after_sequence = 0);

// Prints a job the way every verb does: the detail view for table output,
// the JobToJson document otherwise.
void PrintJob(CommandContext& context, const quantd::v1::Job& job);

}  // namespace quantd::client
