// Strict JSON parsing for the readers: syntax errors carry their byte
// position, and duplicate object keys (which nlohmann-json would silently
// resolve to the last one) are reported instead of hidden.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace quantd::engine::io::internal {

struct DuplicateKey {
  std::string key;
  // 1 for a key of the top-level object, 2 one object deeper, ...
  int depth = 0;
};

struct StrictJson {
  nlohmann::json value;
  std::optional<DuplicateKey> duplicate;  // The first duplicate, if any.
};

// Parses `text`; throws FormatError naming `file` and `what` (e.g.
// "header") on a syntax error.
StrictJson ParseJsonStrict(std::string_view text,
                           const std::filesystem::path& file,
                           std::string_view what);

// "string", "integer", "object", ... for error messages.
std::string JsonTypeName(const nlohmann::json& value);

}  // namespace quantd::engine::io::internal
