// Parsing of flag values that CLI11 hands over as text, with errors that
// name the flag and the reason ("--samples: must be in 1..4096, got 0").
// Numbers are parsed here rather than by CLI11 so every message has the
// same shape and the spec builder stays a pure function.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace quantd::client {

// An integer in [min, max].
[[nodiscard]] absl::StatusOr<int64_t> ParseIntFlag(absl::string_view text,
                                                   absl::string_view flag,
                                                   int64_t min, int64_t max);
[[nodiscard]] absl::StatusOr<uint64_t> ParseUintFlag(absl::string_view text,
                                                     absl::string_view flag);
// A number; its range is the server's to check.
[[nodiscard]] absl::StatusOr<double> ParseDoubleFlag(absl::string_view text,
                                                     absl::string_view flag);

// "key=value" with a non-empty key; the value may be empty or contain '='.
[[nodiscard]] absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(
    absl::string_view text, absl::string_view flag);

// Labels from repeated "k=v": keys and values 1..63 characters, at most 32,
// no duplicate key.
[[nodiscard]] absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& pairs, absl::string_view flag);

// Method parameters from repeated "key=value". A value that parses as JSON
// (0.5, true, null, [1,2], {"a":1}, "quoted") keeps its JSON type; anything
// else is a string. A dotted key ("gptq.block_size=64") nests under its
// first part, a recipe stage's parameters (contract/recipe.h). Duplicate
// keys are an error.
[[nodiscard]] absl::StatusOr<google::protobuf::Struct> ParseParams(
    const std::vector<std::string>& pairs, absl::string_view flag);

}  // namespace quantd::client
