// quantd-engine: LibTorch quantization engine. One process per job; also a
// standalone CLI. Exit codes: 0 success, 2 usage or invalid input, 3 runtime
// failure, 4 out of memory.
#include <CLI/CLI.hpp>
#include <iostream>

#include "worker/engine/cli/probe_command.h"
#include "worker/engine/cli/version.h"

int main(int argc, char** argv) {
  CLI::App app{"quantd-engine: quantize transformer models with LibTorch"};
  app.require_subcommand(1);
  app.add_subcommand("version", "print the engine version")->callback([] {
    std::cout << "quantd-engine " << quantd::engine::cli::kEngineVersion
              << "\n";
  });
  app.add_subcommand("probe", "print this machine's capabilities as JSON")
      ->callback([] {
        std::cout << quantd::engine::cli::ProbeCapabilities().dump() << "\n";
      });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
