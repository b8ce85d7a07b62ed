// What every quantctl verb gets: the output streams, the chosen output
// format and a lazily opened connection; and how verbs are registered with
// CLI11 (each verb's file adds its subcommand and returns what to run).
//
// Thread-safety: none; one command runs at a time.
#pragma once

#include <functional>
#include <memory>
#include <ostream>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/quantctl/client_config.h"
#include "client/quantctl/connection.h"
#include "client/quantctl/exit_codes.h"
#include "client/quantctl/output_format.h"
#include "client/quantctl/terminal.h"

namespace quantd::client {

class CommandContext {
 public:
  CommandContext(Io& io, OutputFormat output, ConnectionOptions options);

  Io& io() { return io_; }
  OutputFormat output() const { return output_; }
  const ConnectionOptions& connection_options() const { return options_; }

  // Opens the connection on first use and waits until it is up.
  [[nodiscard]] absl::StatusOr<Connection*> Connect();

  // Where progress goes: stdout for table output, stderr when stdout
  // carries a JSON or YAML document.
  std::ostream& progress_stream();
  TerminalInfo progress_terminal() const;

  // Reports `status` ("quantctl: <message>" on stderr, and an error
  // document on stdout for JSON/YAML output) and returns its exit code.
  ExitCode Fail(const absl::Status& status);

 private:
  Io& io_;
  const OutputFormat output_;
  const ConnectionOptions options_;
  std::unique_ptr<Connection> connection_;
};

using CommandFn = std::function<ExitCode(CommandContext&)>;

// A registered verb: its CLI11 subcommand and its body. The body owns the
// verb's parsed flag values.
struct Command {
  CLI::App* app = nullptr;
  CommandFn run;
};

}  // namespace quantd::client
