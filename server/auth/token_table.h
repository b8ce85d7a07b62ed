// TokenTable: the parsed token file. Tokens are stored only as the hex
// sha256 of the token text, each mapped to a tenant, roles, an optional
// expiry and a revoked flag:
//
//   tokens:
//     "<64 hex digits of sha256(token)>":
//       tenant: acme                         # 1..63 of [a-z0-9._-]
//       roles: [submit, read]                # submit, read, admin, worker
//       expires_at: "2027-01-01T00:00:00Z"   # optional, RFC 3339
//       revoked: false                       # optional
//       note: "CI pipeline"                  # optional, for people
//
// JSON is accepted too (it is YAML). Unknown keys, bad hashes, unknown
// roles, empty role lists and duplicate hashes are errors naming the entry
// by its token id (the first 8 hex digits), never a whole hash.
//
// Thread-safety: immutable once parsed.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/auth/roles.h"

namespace quantd::auth {

struct TokenEntry {
  std::string tenant;
  RoleSet roles;
  // Unset: never expires.
  std::optional<absl::Time> expires_at;
  bool revoked = false;
};

class TokenTable {
 public:
  // Largest token file read, and most entries in it.
  static constexpr size_t kMaxFileBytes = 16u << 20;
  static constexpr size_t kMaxEntries = 100000;

  // `source` names the text in errors (a file path).
  [[nodiscard]] static absl::StatusOr<TokenTable> Parse(
      const std::string& text, const std::string& source);
  [[nodiscard]] static absl::StatusOr<TokenTable> LoadFile(
      const std::string& path);

  // The entry for a token's lowercase hex sha256, or null.
  const TokenEntry* Find(const std::string& hash_hex) const;
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, TokenEntry> entries_;
};

// The token id shown in logs and audit lines: the first 8 hex digits.
std::string TokenIdOf(const std::string& hash_hex);

}  // namespace quantd::auth
