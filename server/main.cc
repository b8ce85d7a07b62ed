// quantd: the scheduler daemon. Serves grpc.health.v1 and server reflection;
// the JobService and WorkerGateway are added by the scheduler (issue 5).
#include <csignal>
#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "common/config.h"
#include "common/config_flags.h"
#include "common/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"

namespace {

quantd::ConfigSchema ServerSchema() {
  quantd::ConfigSchema schema;
  schema.AddString("listen", "127.0.0.1:7070", "gRPC listen address")
      .AddString("log.format", "text", "log format", {"text", "json"})
      .AddString("log.levels", "info", "log levels, e.g. info,store=debug");
  return schema;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"quantd: quantization-as-a-service scheduler"};
  app.set_version_flag("--version", "quantd 0.1.0");
  const quantd::ConfigSchema schema = ServerSchema();
  quantd::ConfigFlags flags(app, schema);
  CLI11_PARSE(app, argc, argv);

  auto config = quantd::Config::Load(schema, flags.Given(),
                                     quantd::ProcessEnv(), flags.config_file());
  if (!config.ok()) {
    std::cerr << "quantd: " << config.status().message() << "\n";
    return 2;
  }
  auto logs = quantd::LoggerFactory::Create(
      {.format = config->GetString("log.format"),
       .levels = config->GetString("log.levels")});
  if (!logs.ok()) {
    std::cerr << "quantd: " << logs.status().message() << "\n";
    return 2;
  }
  auto log = (*logs)->Get("main");

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config->GetString("listen"),
                           grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    log->error("cannot listen on {}", config->GetString("listen"));
    return 1;
  }
  log->info("listening on port {}", port);
  server->Wait();
  return 0;
}
