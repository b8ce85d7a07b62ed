#include "client/quantctl/watch_command.h"

#include <memory>
#include <string>

#include "client/quantctl/job_waiter.h"

namespace quantd::client {
namespace {

struct WatchFlags {
  std::string job_id;
  uint64_t after_sequence = 0;
};

}  // namespace

Command AddWatchCommand(CLI::App& parent) {
  auto flags = std::make_shared<WatchFlags>();
  CLI::App* app =
      parent.add_subcommand("watch", "follow a job's progress to its end");
  app->add_option("JOB", flags->job_id, "job id")->required();
  app->add_option("--after-sequence", flags->after_sequence,
                  "show only events after this sequence number");
  return {app, [flags](CommandContext& context) {
            return WaitForJob(context, flags->job_id, flags->after_sequence);
          }};
}

}  // namespace quantd::client
