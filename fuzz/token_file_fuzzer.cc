// Fuzz target: the token file (server/auth/token_table.h), which quantd
// re-reads on every SIGHUP, and the "authorization: Bearer" metadata parser
// every call goes through. Beyond not crashing, it checks the promise of
// token_table.h that an error never quotes a whole sha256 hash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "server/auth/token_store.h"
#include "server/auth/token_table.h"

namespace {

// True when `text` holds 64 hex digits in a row.
bool HasWholeHash(absl::string_view text) {
  size_t run = 0;
  for (char c : text) {
    run = absl::ascii_isxdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    if (run >= 64) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto table = quantd::auth::TokenTable::Parse(text, "tokens.yaml");
  if (!table.ok() && HasWholeHash(table.status().message())) std::abort();
  if (table.ok() && table->size() > quantd::auth::TokenTable::kMaxEntries) {
    std::abort();
  }
  const std::optional<std::string_view> token = quantd::auth::BearerToken(text);
  if (token.has_value() && (token->empty() || token->size() > 4096)) {
    std::abort();
  }
  return 0;
}
