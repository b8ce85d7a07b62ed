#include "client/quantctl/client_config.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "common/status.h"

namespace quantd::client {

ConfigSchema QuantctlSchema() {
  ConfigSchema schema;
  schema.AddString("addr", "127.0.0.1:7070", "quantd address, host:port")
      .AddString("token", "", "bearer token sent with every call")
      .AddBool("tls.enabled", false,
               "use TLS (implied by --tls.ca/--tls.cert/--tls.key)")
      .AddString("tls.ca", "", "PEM file of the CA that signed quantd's cert")
      .AddString("tls.cert", "", "PEM client certificate (mutual TLS)")
      .AddString("tls.key", "", "PEM client private key (mutual TLS)")
      .AddDouble("connect-timeout-seconds", 10,
                 "seconds to wait for the connection to quantd", 0.1, 3600)
      .AddString("output", "table", "output format", {"table", "json", "yaml"});
  return schema;
}

std::string DefaultConfigFile(const EnvLookup& env) {
  std::vector<std::filesystem::path> candidates;
  if (auto xdg = env("XDG_CONFIG_HOME"); xdg && !xdg->empty()) {
    candidates.push_back(std::filesystem::path(*xdg) / "quantd/quantctl.yaml");
  }
  if (auto home = env("HOME"); home && !home->empty()) {
    candidates.push_back(std::filesystem::path(*home) /
                         ".config/quantd/quantctl.yaml");
  }
  for (const auto& path : candidates) {
    std::error_code error;
    if (std::filesystem::is_regular_file(path, error)) return path.string();
  }
  return "";
}

absl::StatusOr<ConnectionOptions> ConnectionOptionsFromConfig(
    const Config& config) {
  ConnectionOptions options;
  options.address = config.GetString("addr");
  if (options.address.empty()) {
    return InvalidFieldError("--addr", "must not be empty");
  }
  options.token = config.GetString("token");
  options.tls_ca_file = config.GetString("tls.ca");
  options.tls_cert_file = config.GetString("tls.cert");
  options.tls_key_file = config.GetString("tls.key");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return InvalidFieldError(
        options.tls_cert_file.empty() ? "--tls.cert" : "--tls.key",
        "a client certificate needs both --tls.cert and --tls.key");
  }
  options.tls = config.GetBool("tls.enabled") || !options.tls_ca_file.empty() ||
                !options.tls_cert_file.empty();
  options.connect_timeout =
      absl::Seconds(config.GetDouble("connect-timeout-seconds"));
  return options;
}

}  // namespace quantd::client
