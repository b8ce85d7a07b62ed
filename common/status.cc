#include "common/status.h"

#include <cstdio>
#include <cstdlib>

namespace quantd {

absl::Status InvalidFieldError(absl::string_view field,
                               absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}

std::string FieldOfError(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return "";
  absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos) return "";
  absl::string_view field = message.substr(0, colon);
  // A field path has no spaces; anything else is prose.
  if (field.empty() || field.find(' ') != absl::string_view::npos) return "";
  return std::string(field);
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(context, ": ", status.message()));
}

namespace internal {
void CheckFailed(const char* file, int line, const char* expr,
                 std::string_view message) {
  std::fprintf(stderr, "%s:%d: QUANTD_CHECK failed: %s %.*s\n", file, line,
               expr, static_cast<int>(message.size()), message.data());
  std::abort();
}
}  // namespace internal

}  // namespace quantd
