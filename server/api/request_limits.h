// Size limits on what callers send, checked before a request reaches the
// scheduler: the serialized size of a unary request, the length of every
// string field, the number of entries of every repeated and map field, and
// the nesting depth (JobSpec.method_params is a free-form Struct). gRPC's
// own per-message limit (ServerOptions::max_message_bytes) bounds every
// message on every stream before this runs.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace quantd::api {

struct MessageLimits {
  // Serialized bytes of one unary JobService request. Default 256 KiB.
  size_t max_request_bytes = 256u << 10;
  // Bytes of any string field (bytes fields are not checked). Default 4096.
  size_t max_string_bytes = 4096;
  // Entries of any repeated or map field. Default 1024.
  size_t max_entries = 1024;
  // Levels of nested messages (a map entry and a Struct value count as
  // levels too). Default 32.
  int max_depth = 32;
};

// InvalidArgument naming the offending field ("spec.method_params.x") and
// the limit.
[[nodiscard]] absl::Status CheckMessageLimits(
    const google::protobuf::Message& message, const MessageLimits& limits);

}  // namespace quantd::api
