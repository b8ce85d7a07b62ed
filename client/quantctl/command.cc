#include "client/quantctl/command.h"

#include <utility>

#include "nlohmann/json.hpp"

namespace quantd::client {

CommandContext::CommandContext(Io& io, OutputFormat output,
                               ConnectionOptions options)
    : io_(io), output_(output), options_(std::move(options)) {}

absl::StatusOr<Connection*> CommandContext::Connect() {
  if (connection_ != nullptr) return connection_.get();
  auto connection = Connection::Open(options_);
  if (!connection.ok()) return connection.status();
  if (absl::Status up = (*connection)->WaitConnected(); !up.ok()) return up;
  connection_ = std::move(connection).value();
  return connection_.get();
}

std::ostream& CommandContext::progress_stream() {
  return output_ == OutputFormat::kTable ? io_.out : io_.err;
}

TerminalInfo CommandContext::progress_terminal() const {
  return output_ == OutputFormat::kTable ? io_.out_terminal : io_.err_terminal;
}

ExitCode CommandContext::Fail(const absl::Status& status) {
  const ExitCode code = ExitCodeForStatus(status);
  io_.err << "quantctl: " << status.message() << "\n";
  if (output_ != OutputFormat::kTable) {
    const nlohmann::json document = {
        {"error",
         {{"code", absl::StatusCodeToString(status.code())},
          {"message", std::string(status.message())},
          {"exit_code", ToInt(code)}}}};
    io_.out << RenderDocument(document, output_);
  }
  io_.out << std::flush;
  io_.err << std::flush;
  return code;
}

}  // namespace quantd::client
