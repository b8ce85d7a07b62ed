#include "client/quantctl/logs_command.h"

#include <memory>
#include <string>

#include "client/quantctl/event_watcher.h"
#include "client/quantctl/grpc_streams.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_json.h"
#include "client/quantctl/text_line.h"

namespace quantd::client {
namespace {

struct LogsFlags {
  std::string job_id;
  bool follow = false;
};

// One log event in the chosen format: "TIME LEVEL message", a JSON line,
// or a YAML document.
void PrintLog(CommandContext& context, const quantd::v1::JobEvent& event) {
  std::ostream& out = context.io().out;
  switch (context.output()) {
    case OutputFormat::kTable:
      out << FormatTimestamp(event.time()) << " "
          << SanitizeText(event.log().level()) << " "
          << SanitizeText(event.log().message()) << "\n";
      break;
    case OutputFormat::kJson:
      out << EventToJson(event).dump() << "\n";
      break;
    case OutputFormat::kYaml:
      out << "---\n" << JsonToYaml(EventToJson(event));
      break;
  }
  out << std::flush;
}

ExitCode RunLogs(CommandContext& context, const LogsFlags& flags) {
  auto connection = context.Connect();
  if (!connection.ok()) return context.Fail(connection.status());
  auto job = CallGetJob(**connection, flags.job_id);
  if (!job.ok()) return context.Fail(job.status());
  const uint64_t last = job->last_sequence();
  if (!flags.follow && last == 0) return ExitCode::kSuccess;
  auto ended = WatchEvents(
      WatchJobOpener(**connection, flags.job_id),
      [&](const quantd::v1::JobEvent& event) {
        if (event.has_log()) PrintLog(context, event);
        return flags.follow || event.sequence() < last;
      },
      WatchOptions());
  if (!ended.ok()) return context.Fail(ended.status());
  return ExitCode::kSuccess;
}

}  // namespace

Command AddLogsCommand(CLI::App& parent) {
  auto flags = std::make_shared<LogsFlags>();
  CLI::App* app = parent.add_subcommand("logs", "print a job's log events");
  app->add_option("JOB", flags->job_id, "job id")->required();
  app->add_flag("-f,--follow", flags->follow,
                "keep printing new events until the job ends");
  return {app, [flags](CommandContext& context) {
            return RunLogs(context, *flags);
          }};
}

}  // namespace quantd::client
