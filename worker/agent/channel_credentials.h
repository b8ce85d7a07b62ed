// The worker's gRPC channel to quantd: plaintext, or TLS that verifies
// quantd's certificate (against a CA bundle or the system roots), with an
// optional client certificate for quantd's mutual TLS and an optional
// override of the name checked in quantd's certificate. The PEM files are
// read once, when the channel is created; a worker picks up rotated client
// certificates on restart.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace quantd::agent {

struct ChannelTlsOptions {
  // Use TLS. Default false: plaintext, for loopback or a trusted network.
  bool enabled = false;
  // PEM bundle of the CAs that may sign quantd's certificate (config key
  // tls.ca). Empty: gRPC's default roots (the system's).
  std::string ca_file;
  // PEM client certificate chain and its unencrypted private key (tls.cert,
  // tls.key), presented for quantd's mutual TLS. Both or neither.
  std::string cert_file;
  std::string key_file;
  // Host name checked against quantd's certificate instead of the host of
  // the scheduler address (tls.server_name), e.g. when dialling an IP
  // address whose certificate names only DNS names. Empty: that host.
  std::string server_name;
};

// Channel credentials for `tls`: insecure when not enabled, otherwise SSL
// credentials from the files, checked first so that a mistake stops the
// worker at start rather than failing every handshake: InvalidArgument
// naming the key and the file when a file cannot be read, is over 1 MiB or
// holds no parseable PEM certificate (tls.ca, tls.cert) or unencrypted
// private key (tls.key), when the client certificate has expired, or when
// the key does not match it.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const ChannelTlsOptions& tls);

// A channel to quantd at `address` (host:port) with the credentials above
// and, when set, the server-name override. Does not connect.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::Channel>>
CreateSchedulerChannel(const std::string& address,
                       const ChannelTlsOptions& tls);

// For log lines and errors: "quantd at 10.0.0.5:7070 over TLS (CA
// /etc/ca.crt, client certificate /etc/w.crt)" or "quantd at
// 127.0.0.1:7070 in plaintext".
std::string DescribeSchedulerChannel(const std::string& address,
                                     const ChannelTlsOptions& tls);

}  // namespace quantd::agent
