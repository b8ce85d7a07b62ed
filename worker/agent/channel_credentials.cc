#include "worker/agent/channel_credentials.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/pem.h"
#include "common/status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace quantd::agent {
namespace {

// The certificates of a PEM bundle, leaf (or first CA) first. gRPC would
// only fail at the first handshake, naming neither the key nor the file.
absl::StatusOr<std::vector<PemCertificate>> ParseCertificates(
    const std::string& pem, const char* key, const std::string& path) {
  std::vector<PemCertificate> certs = ParsePemCertificates(pem);
  if (certs.empty()) {
    return InvalidFieldError(key,
                             absl::StrCat(path, " holds no PEM certificate"));
  }
  return certs;
}

// Checks the client certificate: not expired, and its key matches.
absl::Status CheckClientIdentity(const ChannelTlsOptions& tls,
                                 const std::string& chain_pem,
                                 const std::string& key_pem) {
  QUANTD_ASSIGN_OR_RETURN(
      std::vector<PemCertificate> chain,
      ParseCertificates(chain_pem, "tls.cert", tls.cert_file));
  if (X509_cmp_current_time(X509_get0_notAfter(chain.front().get())) <= 0) {
    return InvalidFieldError(
        "tls.cert",
        absl::StrCat("the certificate in ", tls.cert_file, " has expired"));
  }
  PemPrivateKey key = ParsePemPrivateKey(key_pem);
  if (key == nullptr) {
    return InvalidFieldError(
        "tls.key",
        absl::StrCat(tls.key_file, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return InvalidFieldError(
        "tls.key",
        absl::StrCat(tls.key_file, " does not match the certificate in ",
                     tls.cert_file));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const ChannelTlsOptions& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return InvalidFieldError(tls.cert_file.empty() ? "tls.cert" : "tls.key",
                             "a client certificate needs both tls.cert and "
                             "tls.key");
  }
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    QUANTD_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                            ReadPemFile(tls.ca_file, "tls.ca"));
    QUANTD_RETURN_IF_ERROR(
        ParseCertificates(ssl.pem_root_certs, "tls.ca", tls.ca_file).status());
  }
  if (!tls.cert_file.empty()) {
    QUANTD_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                            ReadPemFile(tls.cert_file, "tls.cert"));
    QUANTD_ASSIGN_OR_RETURN(ssl.pem_private_key,
                            ReadPemFile(tls.key_file, "tls.key"));
    QUANTD_RETURN_IF_ERROR(
        CheckClientIdentity(tls, ssl.pem_cert_chain, ssl.pem_private_key));
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateSchedulerChannel(
    const std::string& address, const ChannelTlsOptions& tls) {
  QUANTD_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                          MakeChannelCredentials(tls));
  grpc::ChannelArguments arguments;
  if (tls.enabled && !tls.server_name.empty()) {
    arguments.SetSslTargetNameOverride(tls.server_name);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, std::move(credentials), arguments);
  if (channel == nullptr) {
    return InvalidFieldError(
        "scheduler", absl::StrCat("cannot create a channel to ", address));
  }
  return channel;
}

std::string DescribeSchedulerChannel(const std::string& address,
                                     const ChannelTlsOptions& tls) {
  if (!tls.enabled) return absl::StrCat("quantd at ", address, " in plaintext");
  std::string text =
      absl::StrCat("quantd at ", address, " over TLS (CA ",
                   tls.ca_file.empty() ? "system roots" : tls.ca_file);
  if (!tls.server_name.empty()) {
    absl::StrAppend(&text, ", server name ", tls.server_name);
  }
  absl::StrAppend(&text,
                  tls.cert_file.empty() ? ", no client certificate"
                                        : ", client certificate ",
                  tls.cert_file, ")");
  return text;
}

}  // namespace quantd::agent
