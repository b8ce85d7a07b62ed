// Human-readable renderings of sizes, durations, percentages and times, as
// shown in tables and progress lines (JSON output keeps raw numbers).
#pragma once

#include <cstdint>
#include <string>

#include "google/protobuf/timestamp.pb.h"

namespace quantd::client {

// 1536 -> "1.5 KiB"; below 1 KiB: "512 B".
std::string FormatBytes(uint64_t size_bytes);

// 83.2 -> "1m23s"; 3725 -> "1h02m"; 4.25 -> "4.2s"; negative -> "?".
std::string FormatDuration(double seconds);

// RFC 3339 in UTC ("2025-01-02T10:11:12Z", whole seconds); "" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& time);

// 0.4 -> "40%"; 0.123 -> "12%".
std::string FormatPercent(double fraction);

}  // namespace quantd::client
