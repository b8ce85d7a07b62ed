#include "common/pem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

Bio MemoryBio(std::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Refuses to prompt for a passphrase: encrypted keys are not supported.
int NoPassword(char*, int, int, void*) { return 0; }

}  // namespace

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view field) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return InvalidFieldError(field, absl::StrCat("cannot read ", path));
  }
  std::string text(kMaxPemFileBytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (file.bad()) {
    return InvalidFieldError(field, absl::StrCat("cannot read ", path));
  }
  text.resize(static_cast<size_t>(file.gcount()));
  if (text.size() > kMaxPemFileBytes) {
    return InvalidFieldError(field, absl::StrCat(path, " is over 1 MiB"));
  }
  return text;
}

std::vector<PemCertificate> ParsePemCertificates(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  std::vector<PemCertificate> certs;
  while (X509* cert =
             PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr)) {
    certs.emplace_back(cert);
  }
  // Reading past the last certificate always leaves an error behind.
  ERR_clear_error();
  return certs;
}

PemPrivateKey ParsePemPrivateKey(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  PemPrivateKey key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  ERR_clear_error();
  return key;
}

}  // namespace quantd
