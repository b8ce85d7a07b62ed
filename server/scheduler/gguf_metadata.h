// Reads the few GGUF header fields the scheduler needs for its pre-flight
// memory estimate (architecture, widths, block count, vocabulary size)
// without loading any tensor. The header is untrusted: every length and
// count is bounded and every read checked.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace quantd::scheduler {

struct GgufSummary {
  uint32_t version = 0;
  uint64_t tensor_count = 0;
  std::string architecture;
  // 0 when the header does not say.
  uint64_t embedding_length = 0;
  uint64_t feed_forward_length = 0;
  uint64_t block_count = 0;
  uint64_t head_count = 0;
  uint64_t vocab_size = 0;
};

// InvalidArgument (naming `field`) for a file that is not a well-formed
// GGUF v2/v3 header.
[[nodiscard]] absl::StatusOr<GgufSummary> ReadGgufSummary(
    const std::string& path, const std::string& field);

// True when the file starts with the GGUF magic.
bool LooksLikeGguf(const std::string& path);

}  // namespace quantd::scheduler
