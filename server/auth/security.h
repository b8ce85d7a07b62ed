// Security: what quantd's configuration says about transport security and
// authentication, opened and owned in one place. It adds the keys to the
// server's schema (tls.*, auth.token_file, auth.insecure_allow_anonymous,
// audit.file), decides whether authentication is on, opens the token
// store, the audit log and the TLS credentials, and reloads all three on
// SIGHUP.
//
// Authentication is off only when no token file is configured and either
// the listener is loopback (127.0.0.0/8, ::1, localhost, a unix socket) or
// auth.insecure_allow_anonymous is set; Open() refuses any other listener
// without a token file, and the caller logs the off state loudly.
//
// Thread-safety: Reload() may run while calls use the members.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "server/auth/audit_log.h"
#include "server/auth/tls_credentials.h"
#include "server/auth/token_store.h"
#include "spdlog/logger.h"

namespace quantd::auth {

enum class AuthMode {
  // Bearer tokens from auth.token_file.
  kTokens,
  // No token file, loopback listener: the tenant metadata is trusted.
  kOffLoopback,
  // No token file, auth.insecure_allow_anonymous on another listener.
  kOffByConfig,
};

// Adds the security keys to the server's schema.
void AddSecurityKeys(ConfigSchema& schema);

// True for 127.0.0.0/8, [::1], localhost and unix: targets.
bool IsLoopbackListen(std::string_view listen);

class Security {
 public:
  // `listen` is the gRPC listen address; files that are not absolute
  // default under `data_dir` (the audit log, the TLS staging directory).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Security>> Open(
      const Config& config, const std::string& listen,
      const std::string& data_dir, std::shared_ptr<spdlog::logger> log);

  AuthMode mode() const { return mode_; }
  // Null when authentication is off.
  TokenStore* tokens() const { return tokens_.get(); }
  AuditLog* audit() const { return audit_.get(); }
  // Null for plaintext.
  ServerTls* tls() const { return tls_.get(); }
  // A client CA is configured: workers must present certificates.
  bool verifies_worker_certificates() const {
    return tls_ != nullptr && !client_ca_file_.empty();
  }

  // Re-reads the token file and the TLS files and reopens the audit log;
  // logs each outcome. What fails to load keeps its previous state.
  void Reload();
  // One line for the startup log.
  std::string Describe() const;

 private:
  Security() = default;

  AuthMode mode_ = AuthMode::kOffLoopback;
  std::string client_ca_file_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<ServerTls> tls_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace quantd::auth
