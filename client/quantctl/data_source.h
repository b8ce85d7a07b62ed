// Parses how a user names a model or a dataset on the command line: a blob
// reference ("sha256:<hex>"), a "file:///abs/path" URI, or a plain path
// (made absolute and turned into a file:// URI).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quantd/v1/types.pb.h"

namespace quantd::client {

struct DataSource {
  // What the server is sent unless the file is uploaded first.
  quantd::v1::DataRef ref;
  // The same file as a path on this machine, for a URI or a path (whether
  // or not it exists here); empty for a blob reference.
  std::string local_path;
};

// InvalidArgument naming `flag` for an empty text, a malformed blob
// reference, a relative file:// URI or another URI scheme.
[[nodiscard]] absl::StatusOr<DataSource> ParseDataSource(
    absl::string_view text, absl::string_view flag);

}  // namespace quantd::client
