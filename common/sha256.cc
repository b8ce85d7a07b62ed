#include "common/sha256.h"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace quantd {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  QUANTD_CHECK(state_->ctx != nullptr);
  QUANTD_CHECK(EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(state_->ctx); }

void Sha256::Update(std::string_view data) {
  QUANTD_CHECK(EVP_DigestUpdate(state_->ctx, data.data(), data.size()) == 1);
}

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  QUANTD_CHECK(EVP_DigestFinal_ex(state_->ctx, digest, &length) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 hasher;
  hasher.Update(data);
  return hasher.FinishHex();
}

absl::StatusOr<std::string> Sha256FileHex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  Sha256 hasher;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hasher.Update(std::string_view(buffer.data(), in.gcount()));
  }
  if (in.bad())
    return absl::DataLossError(absl::StrCat("read error on ", path));
  return hasher.FinishHex();
}

std::string BlobRef(absl::string_view hex) {
  return absl::StrCat("sha256:", hex);
}

absl::StatusOr<std::string> ParseBlobRef(absl::string_view ref,
                                         absl::string_view field) {
  constexpr absl::string_view kPrefix = "sha256:";
  if (ref.substr(0, kPrefix.size()) != kPrefix ||
      ref.size() != kPrefix.size() + 64) {
    return InvalidFieldError(
        field, absl::StrCat("must be \"sha256:\" + 64 hex digits, got \"",
                            ref.substr(0, 80), "\""));
  }
  absl::string_view hex = ref.substr(kPrefix.size());
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return InvalidFieldError(field, "hex digits must be lowercase 0-9a-f");
    }
  }
  return std::string(hex);
}

}  // namespace quantd
