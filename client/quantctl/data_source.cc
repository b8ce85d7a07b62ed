#include "client/quantctl/data_source.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status.h"

namespace quantd::client {

absl::StatusOr<DataSource> ParseDataSource(absl::string_view text,
                                           absl::string_view flag) {
  DataSource source;
  if (text.empty()) return InvalidFieldError(flag, "must not be empty");
  if (absl::StartsWith(text, "sha256:")) {
    QUANTD_RETURN_IF_ERROR(ParseBlobRef(text, flag));
    source.ref.set_blob(std::string(text));
    return source;
  }
  if (absl::StartsWith(text, "file://")) {
    absl::string_view path = text.substr(7);
    if (!absl::StartsWith(path, "/")) {
      return InvalidFieldError(
          flag, absl::StrCat("a file:// URI needs an absolute path "
                             "(file:///abs/path), got \"",
                             text, "\""));
    }
    source.ref.set_uri(std::string(text));
    source.local_path = std::string(path);
    return source;
  }
  if (absl::StrContains(text, "://")) {
    return InvalidFieldError(
        flag, absl::StrCat("only file:// URIs, paths and sha256: blob "
                           "references are supported, got \"",
                           text, "\""));
  }
  std::error_code error;
  std::filesystem::path path =
      std::filesystem::absolute(std::string(text), error);
  if (error) {
    return InvalidFieldError(
        flag,
        absl::StrCat("cannot make \"", text, "\" absolute: ", error.message()));
  }
  source.local_path = path.lexically_normal().string();
  source.ref.set_uri(absl::StrCat("file://", source.local_path));
  return source;
}

}  // namespace quantd::client
