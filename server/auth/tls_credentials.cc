#include "server/auth/tls_credentials.h"

#include <fcntl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/pem.h"
#include "common/status.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace quantd::auth {
namespace {

// How often the provider polls the staged files, seconds.
constexpr unsigned kRefreshSeconds = 1;
absl::StatusOr<std::vector<PemCertificate>> ParseCerts(const std::string& pem,
                                                       const char* key) {
  std::vector<PemCertificate> certs = ParsePemCertificates(pem);
  if (certs.empty()) return InvalidFieldError(key, "no PEM certificate");
  return certs;
}

absl::Time NotAfter(const X509* cert) {
  struct tm time = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &time) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTimeT(timegm(&time));
}

std::string SubjectOf(const X509* cert) {
  char buffer[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buffer, sizeof(buffer));
  return buffer;
}

absl::Status CheckKey(const std::string& pem, X509* leaf) {
  PemPrivateKey key = ParsePemPrivateKey(pem);
  if (key == nullptr) {
    return InvalidFieldError("tls.key_file", "no unencrypted PEM private key");
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    return InvalidFieldError("tls.key_file",
                             "does not match the certificate in tls.cert_file");
  }
  return absl::OkStatus();
}

absl::Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  const int fd =
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("tls: cannot write ", temp, ": ", strerror(errno)));
  }
  const bool ok = ::write(fd, text.data(), text.size()) ==
                      static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return absl::UnavailableError(absl::StrCat("tls: cannot stage ", path));
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const TlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return InvalidFieldError(
        options.cert_file.empty() ? "tls.cert_file" : "tls.key_file",
        "TLS needs both tls.cert_file and tls.key_file");
  }
  if (!options.enabled() && !options.client_ca_file.empty()) {
    return InvalidFieldError("tls.client_ca_file",
                             "needs tls.cert_file and tls.key_file");
  }
  if (options.require_client_cert && options.client_ca_file.empty()) {
    return InvalidFieldError("tls.require_client_cert",
                             "needs tls.client_ca_file");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsOptions& options,
                                            absl::Time now) {
  QUANTD_ASSIGN_OR_RETURN(std::string chain,
                          ReadPemFile(options.cert_file, "tls.cert_file"));
  QUANTD_ASSIGN_OR_RETURN(std::string key,
                          ReadPemFile(options.key_file, "tls.key_file"));
  QUANTD_ASSIGN_OR_RETURN(std::vector<PemCertificate> certs,
                          ParseCerts(chain, "tls.cert_file"));
  TlsMaterial material;
  material.subject = SubjectOf(certs.front().get());
  material.not_after = NotAfter(certs.front().get());
  if (material.not_after <= now) {
    return InvalidFieldError(
        "tls.cert_file",
        absl::StrCat("certificate ", material.subject, " has expired"));
  }
  QUANTD_RETURN_IF_ERROR(CheckKey(key, certs.front().get()));
  material.identity_pem = key + "\n" + chain;
  if (!options.client_ca_file.empty()) {
    QUANTD_ASSIGN_OR_RETURN(
        material.client_ca_pem,
        ReadPemFile(options.client_ca_file, "tls.client_ca_file"));
    QUANTD_RETURN_IF_ERROR(
        ParseCerts(material.client_ca_pem, "tls.client_ca_file").status());
  }
  return material;
}

ServerTls::ServerTls(TlsOptions options, std::string stage_dir)
    : options_(std::move(options)), stage_dir_(std::move(stage_dir)) {}

absl::StatusOr<std::unique_ptr<ServerTls>> ServerTls::Create(
    TlsOptions options, std::string stage_dir) {
  QUANTD_RETURN_IF_ERROR(CheckOptions(options));
  if (::mkdir(stage_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrCat("tls: cannot create ", stage_dir, ": ", strerror(errno)));
  }
  ::chmod(stage_dir.c_str(), 0700);
  std::unique_ptr<ServerTls> tls(
      new ServerTls(std::move(options), std::move(stage_dir)));
  QUANTD_RETURN_IF_ERROR(tls->Reload());
  const std::string identity = tls->stage_dir_ + "/identity.pem";
  const bool verify_clients = !tls->options_.client_ca_file.empty();
  tls->provider_ =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          identity, identity,
          verify_clients ? tls->stage_dir_ + "/client_ca.pem" : "",
          kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions creds(tls->provider_);
  creds.watch_identity_key_cert_pairs();
  if (verify_clients) {
    creds.watch_root_certs();
    creds.set_cert_request_type(
        tls->options_.require_client_cert
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(creds);
  return tls;
}

absl::Status ServerTls::Stage(const TlsMaterial& material) {
  QUANTD_RETURN_IF_ERROR(
      WriteAtomically(stage_dir_ + "/identity.pem", material.identity_pem));
  if (!material.client_ca_pem.empty()) {
    QUANTD_RETURN_IF_ERROR(
        WriteAtomically(stage_dir_ + "/client_ca.pem", material.client_ca_pem));
  }
  return absl::OkStatus();
}

absl::Status ServerTls::Reload() {
  QUANTD_ASSIGN_OR_RETURN(TlsMaterial material,
                          LoadTlsMaterial(options_, absl::Now()));
  QUANTD_RETURN_IF_ERROR(Stage(material));
  absl::MutexLock lock(&mu_);
  description_ = absl::StrCat(
      material.subject, ", expires ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", material.not_after,
                       absl::UTCTimeZone()),
      options_.client_ca_file.empty() ? "" : ", client certificates verified",
      options_.require_client_cert ? " and required" : "");
  return absl::OkStatus();
}

std::string ServerTls::Describe() const {
  absl::MutexLock lock(&mu_);
  return description_;
}

}  // namespace quantd::auth
