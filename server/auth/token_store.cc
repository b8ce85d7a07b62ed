#include "server/auth/token_store.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "common/sha256.h"

namespace quantd::auth {
namespace {

constexpr size_t kMaxTokenChars = 4096;

Authentication Refuse(std::string failure, std::string token_id) {
  const char* message = failure == "missing_token"
                            ? "missing bearer token"
                            : "invalid or expired bearer token";
  return {absl::UnauthenticatedError(message), std::move(failure),
          std::move(token_id)};
}

}  // namespace

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(authorization[i])) !=
        kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view token = authorization.substr(kScheme.size());
  if (token.empty() || token.size() > kMaxTokenChars) return std::nullopt;
  for (char c : token) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return token;
}

TokenStore::TokenStore(std::string path, Clock clock, TokenTable table)
    : path_(std::move(path)),
      clock_(std::move(clock)),
      table_(std::make_shared<const TokenTable>(std::move(table))) {}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(std::string path,
                                                             Clock clock) {
  auto table = TokenTable::LoadFile(path);
  if (!table.ok()) return table.status();
  return std::unique_ptr<TokenStore>(
      new TokenStore(std::move(path), std::move(clock), std::move(*table)));
}

absl::Status TokenStore::Reload() {
  auto table = TokenTable::LoadFile(path_);
  if (!table.ok()) return table.status();
  auto fresh = std::make_shared<const TokenTable>(std::move(*table));
  absl::MutexLock lock(&mu_);
  table_ = std::move(fresh);
  return absl::OkStatus();
}

size_t TokenStore::size() const {
  absl::MutexLock lock(&mu_);
  return table_->size();
}

Authentication TokenStore::Authenticate(
    std::optional<std::string_view> authorization) const {
  if (!authorization.has_value()) return Refuse("missing_token", "");
  std::optional<std::string_view> token = BearerToken(*authorization);
  if (!token.has_value()) return Refuse("malformed_token", "");
  const std::string hash = Sha256Hex(*token);
  std::string token_id = TokenIdOf(hash);
  std::shared_ptr<const TokenTable> table;
  {
    absl::MutexLock lock(&mu_);
    table = table_;
  }
  const TokenEntry* entry = table->Find(hash);
  if (entry == nullptr) return Refuse("unknown_token", std::move(token_id));
  if (entry->revoked) return Refuse("revoked_token", std::move(token_id));
  if (entry->expires_at.has_value() && clock_() >= *entry->expires_at) {
    return Refuse("expired_token", std::move(token_id));
  }
  Principal principal{entry->tenant, entry->roles, token_id};
  return {std::move(principal), "", std::move(token_id)};
}

}  // namespace quantd::auth
