// PEM files for TLS: reading a certificate or key file with a size cap and
// parsing its certificates or private key with OpenSSL, so that a bad file
// is reported at start, naming the setting and the file, instead of by
// gRPC at the first handshake. Used by quantd's TLS credentials
// (server/auth) and the worker's channel credentials (worker/agent); each
// caller words its own errors.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quantd {

// Certificate and key files are small; anything larger is refused.
inline constexpr size_t kMaxPemFileBytes = 1u << 20;

struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PemCertificate = std::unique_ptr<X509, X509Deleter>;
using PemPrivateKey = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

// The bytes of `path`: InvalidFieldError(field) when it cannot be read or
// is over kMaxPemFileBytes.
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view field);

// Every certificate of a PEM bundle, in file order; empty when there is
// none. Leaves OpenSSL's error queue clear.
std::vector<PemCertificate> ParsePemCertificates(std::string_view pem);

// The first private key of `pem`, or null when there is none or it is
// encrypted (no passphrase is ever asked for). Leaves the error queue
// clear.
PemPrivateKey ParsePemPrivateKey(std::string_view pem);

}  // namespace quantd
