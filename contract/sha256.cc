#include "contract/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include "contract/format_error.h"

namespace quantd::contract {
namespace {

// EVP fails only on allocation failure or misuse: neither is recoverable.
void Require(int result) {
  if (result != 1) std::abort();
}

}  // namespace

struct Sha256::Context {
  Context() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr) std::abort();
    Require(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr));
  }
  ~Context() { EVP_MD_CTX_free(ctx); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  EVP_MD_CTX* ctx;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(std::string_view data) {
  Require(EVP_DigestUpdate(context_->ctx, data.data(), data.size()));
}

void Sha256::Update(std::span<const std::byte> data) {
  Require(EVP_DigestUpdate(context_->ctx, data.data(), data.size()));
}

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  Require(EVP_DigestFinal_ex(context_->ctx, digest, &length));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 hash;
  hash.Update(data);
  return hash.FinishHex();
}

std::string Sha256FileHex(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FormatError::ForFile(path, "cannot open for hashing");
  std::vector<char> buffer(size_t{4} << 20);
  Sha256 hash;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    hash.Update(std::string_view(buffer.data(), static_cast<size_t>(got)));
  }
  if (in.bad()) throw FormatError::ForFile(path, "read error while hashing");
  return hash.FinishHex();
}

}  // namespace quantd::contract
