// quantctl's configuration: how to reach quantd (address, bearer token,
// TLS files, connect timeout) and the default output format, from flags >
// environment (QUANTD_ADDR, QUANTD_TOKEN, QUANTD_TLS_CA, QUANTD_TLS_CERT,
// QUANTD_TLS_KEY, ...) > a YAML file (--config, else
// $XDG_CONFIG_HOME/quantd/quantctl.yaml or ~/.config/quantd/quantctl.yaml
// when it exists) > defaults.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace quantd::client {

// Keys: addr, token, tls.enabled, tls.ca, tls.cert, tls.key,
// connect-timeout-seconds, output.
ConfigSchema QuantctlSchema();

// The file read when --config is not given: the first of
// $XDG_CONFIG_HOME/quantd/quantctl.yaml and $HOME/.config/quantd/
// quantctl.yaml that exists, else "".
std::string DefaultConfigFile(const EnvLookup& env);

struct ConnectionOptions {
  // host:port, or any gRPC target ("unix:/run/quantd.sock").
  std::string address;
  // Sent as "authorization: Bearer <token>" when non-empty.
  std::string token;
  bool tls = false;
  // PEM file paths; empty: system roots / no client certificate.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  absl::Duration connect_timeout = absl::Seconds(10);
};

// TLS is on when tls.enabled or any TLS file is set; a client certificate
// needs both tls.cert and tls.key (InvalidArgument naming the missing one).
[[nodiscard]] absl::StatusOr<ConnectionOptions> ConnectionOptionsFromConfig(
    const Config& config);

}  // namespace quantd::client
