#include "client/quantctl/flag_values.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace quantd::client {

absl::StatusOr<int64_t> ParseIntFlag(absl::string_view text,
                                     absl::string_view flag, int64_t min,
                                     int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return InvalidFieldError(flag,
                             absl::StrCat("not an integer: \"", text, "\""));
  }
  if (value < min || value > max) {
    return InvalidFieldError(
        flag, absl::StrCat("must be in ", min, "..", max, ", got ", value));
  }
  return value;
}

absl::StatusOr<uint64_t> ParseUintFlag(absl::string_view text,
                                       absl::string_view flag) {
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return InvalidFieldError(
        flag, absl::StrCat("not a non-negative integer: \"", text, "\""));
  }
  return value;
}

absl::StatusOr<double> ParseDoubleFlag(absl::string_view text,
                                       absl::string_view flag) {
  double value = 0.0;
  if (!absl::SimpleAtod(text, &value)) {
    return InvalidFieldError(flag,
                             absl::StrCat("not a number: \"", text, "\""));
  }
  return value;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(
    absl::string_view text, absl::string_view flag) {
  const size_t equals = text.find('=');
  if (equals == absl::string_view::npos || equals == 0) {
    return InvalidFieldError(
        flag, absl::StrCat("expected key=value, got \"", text, "\""));
  }
  return std::make_pair(std::string(text.substr(0, equals)),
                        std::string(text.substr(equals + 1)));
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& pairs, absl::string_view flag) {
  constexpr size_t kMaxLabels = 32;
  constexpr size_t kMaxLength = 63;
  if (pairs.size() > kMaxLabels) {
    return InvalidFieldError(flag, absl::StrCat("at most ", kMaxLabels,
                                                " labels, got ", pairs.size()));
  }
  std::map<std::string, std::string> labels;
  for (const std::string& pair : pairs) {
    QUANTD_ASSIGN_OR_RETURN(auto entry, ParseKeyValue(pair, flag));
    if (entry.first.size() > kMaxLength || entry.second.size() > kMaxLength) {
      return InvalidFieldError(
          flag, absl::StrCat("keys and values are at most ", kMaxLength,
                             " characters: \"", pair, "\""));
    }
    if (!labels.emplace(entry).second) {
      return InvalidFieldError(
          flag, absl::StrCat("label \"", entry.first, "\" given twice"));
    }
  }
  return labels;
}

absl::StatusOr<google::protobuf::Struct> ParseParams(
    const std::vector<std::string>& pairs, absl::string_view flag) {
  nlohmann::json object = nlohmann::json::object();
  for (const std::string& pair : pairs) {
    QUANTD_ASSIGN_OR_RETURN(auto entry, ParseKeyValue(pair, flag));
    // "gptq.block_size=64": a recipe stage's parameter, nested under it.
    const std::vector<std::string> path = absl::StrSplit(entry.first, '.');
    for (const std::string& part : path) {
      if (part.empty()) {
        return InvalidFieldError(flag, absl::StrCat("parameter \"", entry.first,
                                                    "\" has an empty key"));
      }
    }
    nlohmann::json* parent = &object;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      nlohmann::json& child = (*parent)[path[i]];
      if (child.is_null()) child = nlohmann::json::object();
      if (!child.is_object()) {
        return InvalidFieldError(
            flag, absl::StrCat("parameter \"", entry.first,
                               "\" conflicts with another --param"));
      }
      parent = &child;
    }
    if (parent->contains(path.back())) {
      return InvalidFieldError(
          flag, absl::StrCat("parameter \"", entry.first, "\" given twice"));
    }
    nlohmann::json value = nlohmann::json::parse(entry.second, nullptr,
                                                 /*allow_exceptions=*/false);
    if (value.is_discarded()) value = entry.second;
    (*parent)[path.back()] = std::move(value);
  }
  google::protobuf::Struct params;
  const auto status =
      google::protobuf::util::JsonStringToMessage(object.dump(), &params);
  if (!status.ok()) {
    return InvalidFieldError(flag, status.ToString());
  }
  return params;
}

}  // namespace quantd::client
