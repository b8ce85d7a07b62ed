#include "client/quantctl/cli.h"

#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/quantctl/cancel_command.h"
#include "client/quantctl/client_config.h"
#include "client/quantctl/command.h"
#include "client/quantctl/fetch_command.h"
#include "client/quantctl/get_command.h"
#include "client/quantctl/list_command.h"
#include "client/quantctl/logs_command.h"
#include "client/quantctl/submit_command.h"
#include "client/quantctl/version_command.h"
#include "client/quantctl/watch_command.h"
#include "client/quantctl/workers_command.h"
#include "common/config_flags.h"

namespace quantd::client {
namespace {

std::vector<Command> AddCommands(CLI::App& app) {
  return {
      AddSubmitCommand(app), AddGetCommand(app),     AddListCommand(app),
      AddWatchCommand(app),  AddCancelCommand(app),  AddFetchCommand(app),
      AddLogsCommand(app),   AddWorkersCommand(app), AddVersionCommand(app)};
}

// Parses argv; returns an exit code when the run ends here (help, usage
// error).
std::optional<int> Parse(CLI::App& app, int argc, const char* const* argv,
                         Io& io) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error, io.out, io.err);
    // CLI11 exits 0 for --help and non-zero for usage errors; all usage
    // errors are invalid input to a pipeline.
    return code == 0 ? 0 : ToInt(ExitCode::kInvalidInput);
  }
  return std::nullopt;
}

}  // namespace

int RunQuantctl(int argc, const char* const* argv, Io& io,
                const EnvLookup& env) {
  CLI::App app{"quantctl: submit, watch and manage quantd quantization jobs"};
  app.set_version_flag("--version", "quantctl " + ClientVersion());
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(ExitCodeHelp() +
             "\nConfiguration: flags > environment > --config file (default "
             "~/.config/quantd/quantctl.yaml) > defaults. See docs/CLI.md.\n");
  const ConfigSchema schema = QuantctlSchema();
  ConfigFlags config_flags(app, schema);
  const std::vector<Command> commands = AddCommands(app);
  if (auto code = Parse(app, argc, argv, io)) return *code;

  const std::string file = config_flags.config_file().empty()
                               ? DefaultConfigFile(env)
                               : config_flags.config_file();
  auto config = Config::Load(schema, config_flags.Given(), env, file);
  OutputFormat output = OutputFormat::kTable;
  if (config.ok()) output = *ParseOutputFormat(config->GetString("output"));
  ConnectionOptions options;
  absl::Status usable = config.status();
  if (config.ok()) {
    auto from_config = ConnectionOptionsFromConfig(*config);
    usable = from_config.status();
    if (from_config.ok()) options = *from_config;
  }
  CommandContext context(io, output, options);
  if (!usable.ok()) return ToInt(context.Fail(usable));
  for (const Command& command : commands) {
    if (command.app->parsed()) return ToInt(command.run(context));
  }
  return ToInt(context.Fail(absl::InvalidArgumentError("no command given")));
}

}  // namespace quantd::client
