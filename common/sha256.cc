#include "common/sha256.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "contract/format_error.h"

namespace quantd {

absl::StatusOr<std::string> Sha256FileHex(const std::string& path) {
  try {
    return contract::Sha256FileHex(path);
  } catch (const contract::FormatError& error) {
    std::error_code ignored;
    if (!std::filesystem::exists(path, ignored)) {
      return absl::NotFoundError(absl::StrCat("cannot open ", path));
    }
    return absl::DataLossError(error.what());
  }
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
