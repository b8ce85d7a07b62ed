// TokenStore: authenticates bearer tokens against the token file
// (TokenTable) and swaps in a re-read file on Reload() (SIGHUP). A token is
// hashed with sha256 and looked up by its hash, so the file never holds a
// usable secret. Unknown, expired and revoked tokens are refused with the
// same UNAUTHENTICATED message; the reason is returned separately for the
// audit log, never to the caller.
//
// Thread-safety: Authenticate() and Reload() are safe from any thread; a
// call sees either the old table or the new one, never a mix.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth/roles.h"
#include "server/auth/token_table.h"

namespace quantd::auth {

// The outcome of authenticating one call.
struct Authentication {
  // The principal, or UNAUTHENTICATED.
  absl::StatusOr<Principal> principal;
  // Why it failed, for the audit log: "missing_token", "malformed_token",
  // "unknown_token", "expired_token", "revoked_token"; "" on success.
  std::string failure;
  // The token id when a token was presented (even an unknown one).
  std::string token_id;
};

class TokenStore {
 public:
  using Clock = std::function<absl::Time()>;

  // Loads `path`; errors name the file and the entry.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TokenStore>> Open(
      std::string path, Clock clock = absl::Now);

  // Re-reads the file. On error the previous table stays in force (a typo
  // must not lock everyone out) and the error is returned for the log.
  [[nodiscard]] absl::Status Reload();

  // `authorization` is the call's "authorization" metadata value (nullopt
  // when absent): "Bearer <token>", the scheme case-insensitive.
  Authentication Authenticate(
      std::optional<std::string_view> authorization) const;

  const std::string& path() const { return path_; }
  size_t size() const;

 private:
  TokenStore(std::string path, Clock clock, TokenTable table);

  const std::string path_;
  const Clock clock_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);
};

// The token of an "authorization" value, or nullopt when it is not
// "Bearer <1..4096 visible ASCII characters>".
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace quantd::auth
