// quantd-engine: LibTorch quantization engine. One process per job; also a
// standalone CLI. Exit codes: 0 success, 2 usage or invalid input, 3 runtime
// failure, 4 out of memory.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "worker/engine/cli/eval_command.h"
#include "worker/engine/cli/inspect_command.h"
#include "worker/engine/cli/probe_command.h"
#include "worker/engine/cli/run_command.h"
#include "worker/engine/cli/version.h"

int main(int argc, char** argv) {
  // Tensors of 1 MiB and more get their own mappings, returned to the
  // system when freed. With glibc's default (a threshold that rises to
  // 32 MiB after the first large free) a long job's freed block tensors
  // stay in the heap, and peak memory grew with the number of blocks
  // (docs/RESULTS.md, "Any model size").
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
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
  int exit_code = 0;
  quantd::engine::cli::AddRunCommand(app, &exit_code);
  quantd::engine::cli::AddEvalCommand(app, &exit_code);
  quantd::engine::cli::AddInspectCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 prints the message (naming the flag) or the help; a usage error
    // exits 2 like every other invalid input.
    const int status = app.exit(error);
    return status == 0 ? 0 : 2;
  }
  return exit_code;
}
