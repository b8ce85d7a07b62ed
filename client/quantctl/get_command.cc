#include "client/quantctl/get_command.h"

#include <memory>
#include <string>

#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_waiter.h"

namespace quantd::client {

Command AddGetCommand(CLI::App& parent) {
  auto job_id = std::make_shared<std::string>();
  CLI::App* app = parent.add_subcommand("get", "show one job");
  app->alias("describe");
  app->add_option("JOB", *job_id, "job id")->required();
  return {app, [job_id](CommandContext& context) {
            auto connection = context.Connect();
            if (!connection.ok()) return context.Fail(connection.status());
            auto job = CallGetJob(**connection, *job_id);
            if (!job.ok()) return context.Fail(job.status());
            PrintJob(context, *job);
            return ExitCode::kSuccess;
          }};
}

}  // namespace quantd::client
