#include "client/quantctl/workers_command.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/quantctl/humanize.h"
#include "client/quantctl/job_calls.h"
#include "client/quantctl/job_json.h"
#include "client/quantctl/table.h"

namespace quantd::client {
namespace {

std::string Devices(const quantd::v1::WorkerCapabilities& capabilities) {
  std::vector<std::string> devices;
  for (const auto& device : capabilities.devices()) {
    devices.push_back(absl::StrCat(device.name(), " (",
                                   FormatBytes(device.memory_bytes()), ")"));
  }
  return absl::StrJoin(devices, ", ");
}

ExitCode RunWorkers(CommandContext& context, bool include_lost) {
  auto connection = context.Connect();
  if (!connection.ok()) return context.Fail(connection.status());
  auto workers = CallListWorkers(**connection, include_lost);
  if (!workers.ok()) {
    if (workers.status().code() == absl::StatusCode::kUnimplemented) {
      return context.Fail(absl::UnimplementedError(absl::StrCat(
          "quantd at ", (*connection)->address(),
          " does not implement ListWorkers yet (UNIMPLEMENTED); upgrade the "
          "scheduler to list workers")));
    }
    return context.Fail(workers.status());
  }
  if (context.output() == OutputFormat::kTable) {
    context.io().out << RenderWorkersTable(*workers);
  } else {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& worker : workers->workers()) {
      list.push_back(WorkerToJson(worker));
    }
    context.io().out << RenderDocument({{"workers", list}}, context.output());
  }
  context.io().out << std::flush;
  return ExitCode::kSuccess;
}

}  // namespace

std::string RenderWorkersTable(const quantd::v1::ListWorkersResponse& workers) {
  Table table({"WORKER", "ALIVE", "DEVICES", "HOST MEMORY", "METHODS", "JOBS",
               "LAST HEARTBEAT"});
  for (const auto& worker : workers.workers()) {
    const auto& capabilities = worker.capabilities();
    table.AddRow({worker.worker_id(), worker.alive() ? "yes" : "no",
                  Devices(capabilities),
                  FormatBytes(capabilities.host_memory_bytes()),
                  absl::StrJoin(capabilities.methods(), ","),
                  absl::StrCat(worker.job_ids_size(), "/",
                               capabilities.max_concurrent_jobs()),
                  FormatTimestamp(worker.last_heartbeat_time())});
  }
  return table.Render();
}

Command AddWorkersCommand(CLI::App& parent) {
  auto include_lost = std::make_shared<bool>(false);
  CLI::App* app = parent.add_subcommand("workers", "list registered workers");
  app->add_flag("--all", *include_lost,
                "include workers whose liveness lapsed");
  return {app, [include_lost](CommandContext& context) {
            return RunWorkers(context, *include_lost);
          }};
}

}  // namespace quantd::client
