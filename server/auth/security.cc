#include "server/auth/security.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd::auth {
namespace {

namespace fs = std::filesystem;

std::string UnderDataDir(const std::string& path, const std::string& data_dir) {
  return fs::path(path).is_absolute() ? path
                                      : (fs::path(data_dir) / path).string();
}

absl::StatusOr<AuthMode> DecideMode(const Config& config,
                                    const std::string& listen) {
  if (!config.GetString("auth.token_file").empty()) return AuthMode::kTokens;
  if (IsLoopbackListen(listen)) return AuthMode::kOffLoopback;
  if (config.GetBool("auth.insecure_allow_anonymous")) {
    return AuthMode::kOffByConfig;
  }
  return InvalidFieldError(
      "auth.token_file",
      absl::StrCat("required when listening on ", listen,
                   " (not loopback); set auth.insecure_allow_anonymous=true "
                   "only behind a proxy that authenticates every caller"));
}

}  // namespace

void AddSecurityKeys(ConfigSchema& schema) {
  schema
      .AddString("tls.cert_file", "",
                 "PEM certificate chain of the gRPC listener (enables TLS)")
      .AddString("tls.key_file", "", "PEM private key of tls.cert_file")
      .AddString("tls.client_ca_file", "",
                 "PEM CA bundle for client certificates; workers must then "
                 "present one (mutual TLS)")
      .AddBool("tls.require_client_cert", false,
               "refuse every TLS handshake without a client certificate")
      .AddString("auth.token_file", "",
                 "YAML/JSON file of sha256(token) -> tenant, roles, expiry "
                 "(enables authentication; reloaded on SIGHUP)")
      .AddBool("auth.insecure_allow_anonymous", false,
               "allow a non-loopback listener without tokens (trusts the "
               "quantd-tenant metadata)")
      .AddString("audit.file", "audit.jsonl",
                 "audit log (JSON lines); relative to data_dir unless "
                 "absolute; reopened on SIGHUP");
}

bool IsLoopbackListen(std::string_view listen) {
  if (listen.substr(0, 5) == "unix:") return true;
  const size_t colon = listen.rfind(':');
  std::string_view host =
      colon == std::string_view::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  if (host.substr(0, 4) != "127.") return false;
  // An IPv4 literal, not a host name that happens to start with "127.".
  for (char c : host) {
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Security>> Security::Open(
    const Config& config, const std::string& listen,
    const std::string& data_dir, std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<Security> security(new Security());
  security->log_ = std::move(log);
  QUANTD_ASSIGN_OR_RETURN(security->mode_, DecideMode(config, listen));
  if (security->mode_ == AuthMode::kTokens) {
    QUANTD_ASSIGN_OR_RETURN(
        security->tokens_,
        TokenStore::Open(config.GetString("auth.token_file")));
  }
  QUANTD_ASSIGN_OR_RETURN(
      security->audit_,
      AuditLog::Open(UnderDataDir(config.GetString("audit.file"), data_dir),
                     security->log_));
  TlsOptions tls{config.GetString("tls.cert_file"),
                 config.GetString("tls.key_file"),
                 config.GetString("tls.client_ca_file"),
                 config.GetBool("tls.require_client_cert")};
  security->client_ca_file_ = tls.client_ca_file;
  if (tls.enabled() || !tls.client_ca_file.empty() || tls.require_client_cert) {
    QUANTD_ASSIGN_OR_RETURN(
        security->tls_,
        ServerTls::Create(tls, (fs::path(data_dir) / "tls").string()));
  }
  return security;
}

void Security::Reload() {
  if (tokens_ != nullptr) {
    absl::Status status = tokens_->Reload();
    if (status.ok()) {
      log_->info("reload: {} tokens from {}", tokens_->size(), tokens_->path());
    } else {
      log_->error("reload: tokens unchanged: {}", status.ToString());
    }
  }
  if (tls_ != nullptr) {
    absl::Status status = tls_->Reload();
    if (status.ok()) {
      log_->info("reload: TLS certificate {}", tls_->Describe());
    } else {
      log_->error("reload: TLS certificate unchanged: {}", status.ToString());
    }
  }
  absl::Status audit = audit_->Reopen();
  if (!audit.ok()) log_->error("reload: {}", audit.ToString());
}

std::string Security::Describe() const {
  std::string text;
  switch (mode_) {
    case AuthMode::kTokens:
      text = absl::StrCat("authentication: bearer tokens (", tokens_->size(),
                          " from ", tokens_->path(), ")");
      break;
    case AuthMode::kOffLoopback:
    case AuthMode::kOffByConfig:
      text = "authentication: OFF";
      break;
  }
  absl::StrAppend(
      &text, "; transport: ",
      tls_ ? absl::StrCat("TLS, ", tls_->Describe()) : std::string("plaintext"),
      "; audit log: ", audit_->path());
  return text;
}

}  // namespace quantd::auth
