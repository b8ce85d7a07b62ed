// quantd-worker: registers with quantd, leases jobs and runs each as a child
// quantd-engine process. The lease loop arrives with issue 6; this binary
// parses its configuration so deployments can be wired up.
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/config.h"
#include "common/config_flags.h"

int main(int argc, char** argv) {
  CLI::App app{"quantd-worker: runs quantization jobs leased from quantd"};
  app.set_version_flag("--version", "quantd-worker 0.1.0");
  quantd::ConfigSchema schema;
  schema.AddString("scheduler", "127.0.0.1:7070", "quantd address")
      .AddString("engine", "quantd-engine", "path of the quantd-engine binary");
  quantd::ConfigFlags flags(app, schema);
  CLI11_PARSE(app, argc, argv);
  auto config = quantd::Config::Load(schema, flags.Given(),
                                     quantd::ProcessEnv(), flags.config_file());
  if (!config.ok()) {
    std::cerr << "quantd-worker: " << config.status().message() << "\n";
    return 2;
  }
  std::cerr << "quantd-worker: the lease loop is not built yet (issue 6)\n";
  return 1;
}
