#include "client/quantctl/job_waiter.h"

#include "absl/strings/str_cat.h"
#include "client/quantctl/event_watcher.h"
#include "client/quantctl/grpc_streams.h"
#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_json.h"
#include "client/quantctl/job_view.h"
#include "client/quantctl/progress_renderer.h"
#include "client/quantctl/result_table.h"

namespace quantd::client {
namespace {

// The job as the terminal event describes it, for when GetJob fails after
// the stream ended (the outcome is known either way).
quantd::v1::Job JobFromTerminal(const std::string& job_id,
                                const quantd::v1::Terminal& terminal) {
  quantd::v1::Job job;
  job.set_id(job_id);
  job.set_state(terminal.state());
  if (terminal.has_result()) *job.mutable_result() = terminal.result();
  if (terminal.has_error()) *job.mutable_error() = terminal.error();
  return job;
}

}  // namespace

void PrintJob(CommandContext& context, const quantd::v1::Job& job) {
  if (context.output() == OutputFormat::kTable) {
    context.io().out << RenderJobDetail(job);
  } else {
    context.io().out << RenderDocument(JobToJson(job), context.output());
  }
  context.io().out << std::flush;
}

ExitCode WaitForJob(CommandContext& context, const std::string& job_id,
                    uint64_t after_sequence) {
  auto connection = context.Connect();
  if (!connection.ok()) return context.Fail(connection.status());
  ProgressRenderer renderer(context.progress_stream(),
                            context.progress_terminal(), job_id);
  WatchOptions options;
  options.after_sequence = after_sequence;
  options.on_reconnect = [&](const absl::Status& status, uint64_t after) {
    renderer.Note(absl::StrCat("event stream lost (", status.message(),
                               "); resuming after event ", after));
  };
  auto terminal = WatchEvents(
      WatchJobOpener(**connection, job_id),
      [&](const quantd::v1::JobEvent& event) {
        renderer.OnEvent(event);
        return true;
      },
      options);
  renderer.Finish();
  if (!terminal.ok()) return context.Fail(terminal.status());
  auto job = CallGetJob(**connection, job_id);
  const quantd::v1::Job final_job =
      job.ok() ? *job : JobFromTerminal(job_id, (*terminal)->terminal());
  if (context.output() == OutputFormat::kTable) {
    context.io().out << "\n" << RenderOutcome(final_job) << std::flush;
  } else {
    PrintJob(context, final_job);
  }
  return ExitCodeForJobState(final_job.state());
}

}  // namespace quantd::client
