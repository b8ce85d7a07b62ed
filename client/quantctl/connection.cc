#include "client/quantctl/connection.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace quantd::client {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    absl::string_view flag) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return InvalidFieldError(flag, absl::StrCat("cannot read ", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ConnectionOptions& options) {
  if (!options.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    QUANTD_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                            ReadPem(options.tls_ca_file, "--tls.ca"));
  }
  if (!options.tls_cert_file.empty()) {
    QUANTD_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                            ReadPem(options.tls_cert_file, "--tls.cert"));
    QUANTD_ASSIGN_OR_RETURN(ssl.pem_private_key,
                            ReadPem(options.tls_key_file, "--tls.key"));
  }
  return grpc::SslCredentials(ssl);
}

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

}  // namespace

absl::Status StatusFromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const ConnectionOptions& options) {
  QUANTD_ASSIGN_OR_RETURN(auto credentials, Credentials(options));
  auto channel = grpc::CreateChannel(options.address, credentials);
  if (channel == nullptr) {
    return InvalidFieldError("--addr", absl::StrCat("cannot create a channel "
                                                    "to ",
                                                    options.address));
  }
  return std::unique_ptr<Connection>(
      new Connection(options, std::move(channel)));
}

Connection::Connection(ConnectionOptions options,
                       std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(quantd::v1::JobService::NewStub(channel_)) {}

absl::Status Connection::WaitConnected() {
  if (channel_->WaitForConnected(Deadline(options_.connect_timeout))) {
    return absl::OkStatus();
  }
  // A TLS mismatch looks like an unreachable server from here: say which
  // side to check.
  const char* tls_hint =
      options_.tls
          ? "; with TLS, check that --tls.ca signed quantd's certificate "
            "and that it names the host in --addr (and --tls.cert/--tls.key "
            "if quantd requires client certificates)"
          : "; if quantd serves TLS, pass --tls.ca FILE (or --tls.enabled "
            "true for the system roots)";
  return absl::UnavailableError(absl::StrCat(
      "cannot reach quantd at ", options_.address, " (no connection within ",
      absl::FormatDuration(options_.connect_timeout),
      "); check --addr or QUANTD_ADDR", tls_hint));
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options_.token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options_.token));
  }
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(Deadline(timeout));
  }
  return context;
}

absl::Status Connection::FromGrpc(const grpc::Status& status) const {
  const absl::Status plain = StatusFromGrpc(status);
  switch (plain.code()) {
    case absl::StatusCode::kUnavailable:
      return Annotate(plain,
                      absl::StrCat("cannot reach quantd at ", address()));
    case absl::StatusCode::kDeadlineExceeded:
      return Annotate(plain, absl::StrCat("quantd at ", address(),
                                          " did not answer in time"));
    case absl::StatusCode::kUnauthenticated:
      return absl::UnauthenticatedError(absl::StrCat(
          plain.message(), " (set a token with --token or QUANTD_TOKEN)"));
    case absl::StatusCode::kUnimplemented:
      return Annotate(plain, absl::StrCat("quantd at ", address(),
                                          " does not implement this call"));
    default:
      return plain;
  }
}

}  // namespace quantd::client
