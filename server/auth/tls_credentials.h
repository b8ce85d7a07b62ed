// ServerTls: TLS server credentials read from PEM files and reloaded on
// demand (SIGHUP). gRPC 1.51 can only re-read certificates through its
// FileWatcherCertificateProvider, which polls files; to reload exactly when
// asked, and only with material that passed our checks, ServerTls copies
// the validated key+chain and client CA into a private staging directory
// (mode 0700, files 0600) that the provider watches once a second. Editing
// the configured files therefore changes nothing until the next Reload();
// a Reload() with bad files keeps the served certificates.
//
// Client certificates: with a client CA, every handshake requests one and
// verifies it when presented (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY)
// so that people without certificates can still connect while workers are
// checked per call (see server/api); `require_client_cert` makes the
// handshake itself fail without one.
//
// Thread-safety: Reload() may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"

namespace quantd::auth {

struct TlsOptions {
  // PEM certificate chain, leaf first, and its PEM private key (not
  // encrypted). Both or neither; neither means plaintext.
  std::string cert_file;
  std::string key_file;
  // PEM bundle of the CAs that sign client certificates; empty: client
  // certificates are not requested.
  std::string client_ca_file;
  // Refuse handshakes without a verified client certificate. Needs
  // client_ca_file. Default false.
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// The checked contents of the files.
struct TlsMaterial {
  // Private key followed by the chain: one file, so the watcher can never
  // pair a new key with an old certificate.
  std::string identity_pem;
  std::string client_ca_pem;
  // The leaf certificate's subject and expiry, for the log.
  std::string subject;
  absl::Time not_after;
};

// Reads and checks the files: a parseable chain whose leaf has not
// expired, an unencrypted key that matches the leaf, a parseable CA bundle.
// Errors name the config key (tls.cert_file, tls.key_file,
// tls.client_ca_file).
[[nodiscard]] absl::StatusOr<TlsMaterial> LoadTlsMaterial(
    const TlsOptions& options, absl::Time now);

class ServerTls {
 public:
  // Checks the options and files and stages them under `stage_dir`.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ServerTls>> Create(
      TlsOptions options, std::string stage_dir);

  std::shared_ptr<grpc::ServerCredentials> credentials() const {
    return credentials_;
  }
  // Re-reads and re-checks the configured files, then stages them; new
  // handshakes use them within about a second.
  [[nodiscard]] absl::Status Reload();
  // "CN=quantd, expires 2027-01-01T00:00:00Z".
  std::string Describe() const;

 private:
  ServerTls(TlsOptions options, std::string stage_dir);
  absl::Status Stage(const TlsMaterial& material);

  const TlsOptions options_;
  const std::string stage_dir_;
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  mutable absl::Mutex mu_;
  std::string description_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::auth
