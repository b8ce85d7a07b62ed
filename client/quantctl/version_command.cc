#include "client/quantctl/version_command.h"

#include "nlohmann/json.hpp"

#ifndef QUANTD_VERSION
#error "QUANTD_VERSION must be defined by the build"
#endif

namespace quantd::client {

std::string ClientVersion() { return QUANTD_VERSION; }

Command AddVersionCommand(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("version", "print the client version");
  return {app, [](CommandContext& context) {
            if (context.output() == OutputFormat::kTable) {
              context.io().out << "quantctl " << ClientVersion()
                               << " (API quantd.v1)\n";
            } else {
              const nlohmann::json document = {
                  {"client_version", ClientVersion()}, {"api", "quantd.v1"}};
              context.io().out << RenderDocument(document, context.output());
            }
            context.io().out << std::flush;
            return ExitCode::kSuccess;
          }};
}

}  // namespace quantd::client
