#include "client/quantctl/cancel_command.h"

#include <memory>
#include <string>

#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_waiter.h"
#include "client/quantctl/proto_names.h"

namespace quantd::client {
namespace {

struct CancelFlags {
  std::string job_id;
  std::string reason = "cancelled with quantctl";
};

ExitCode RunCancel(CommandContext& context, const CancelFlags& flags) {
  auto connection = context.Connect();
  if (!connection.ok()) return context.Fail(connection.status());
  auto job = CallCancelJob(**connection, flags.job_id, flags.reason);
  if (!job.ok()) return context.Fail(job.status());
  if (context.output() != OutputFormat::kTable) {
    PrintJob(context, *job);
  } else if (IsTerminal(job->state())) {
    context.io().out << "Cancelled " << job->id() << "\n";
  } else {
    context.io().out << "Cancel requested for " << job->id() << " ("
                     << StateName(job->state())
                     << "); its worker is stopping it\n";
  }
  context.io().out << std::flush;
  return ExitCode::kSuccess;
}

}  // namespace

Command AddCancelCommand(CLI::App& parent) {
  auto flags = std::make_shared<CancelFlags>();
  CLI::App* app = parent.add_subcommand("cancel", "cancel a job");
  app->add_option("JOB", flags->job_id, "job id")->required();
  app->add_option("--reason", flags->reason, "shown in the job's history");
  return {app, [flags](CommandContext& context) {
            return RunCancel(context, *flags);
          }};
}

}  // namespace quantd::client
