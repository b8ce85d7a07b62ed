#include "worker/engine/io/json_util.h"

#include <set>
#include <vector>

#include "worker/engine/io/format_error.h"

namespace quantd::engine::io::internal {

StrictJson ParseJsonStrict(std::string_view text,
                           const std::filesystem::path& file,
                           std::string_view what) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::set<std::string>> open_objects;
  std::optional<DuplicateKey> duplicate;
  auto callback = [&](int, Event event, nlohmann::json& parsed) {
    if (event == Event::object_start) {
      open_objects.emplace_back();
    } else if (event == Event::object_end && !open_objects.empty()) {
      open_objects.pop_back();
    } else if (event == Event::key && !open_objects.empty()) {
      std::string key = parsed.get<std::string>();
      if (!open_objects.back().insert(key).second && !duplicate) {
        duplicate =
            DuplicateKey{std::move(key), static_cast<int>(open_objects.size())};
      }
    }
    return true;
  };
  try {
    StrictJson result;
    result.value = nlohmann::json::parse(text.begin(), text.end(), callback);
    result.duplicate = std::move(duplicate);
    return result;
  } catch (const nlohmann::json::parse_error& error) {
    throw FormatError::ForFile(file, std::string(what) +
                                         " is not valid JSON (error at byte " +
                                         std::to_string(error.byte) + ")");
  } catch (const nlohmann::json::out_of_range&) {
    // A number past a double's range ("1e999") is rejected by nlohmann with
    // out_of_range rather than parse_error; it is still malformed input.
    throw FormatError::ForFile(
        file,
        std::string(what) + " is not valid JSON (a number is out of range)");
  }
}

std::string JsonTypeName(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "number";
  return value.type_name();
}

}  // namespace quantd::engine::io::internal
