#include "client/quantctl/humanize.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace quantd::client {

std::string FormatBytes(uint64_t size_bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (size_bytes < 1024) return absl::StrFormat("%d B", size_bytes);
  double value = static_cast<double>(size_bytes) / 1024.0;
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string FormatDuration(double seconds) {
  if (seconds < 0 || !std::isfinite(seconds)) return "?";
  if (seconds < 60) return absl::StrFormat("%.1fs", seconds);
  const auto whole = static_cast<int64_t>(std::llround(seconds));
  if (whole < 3600) {
    return absl::StrFormat("%dm%02ds", whole / 60, whole % 60);
  }
  return absl::StrFormat("%dh%02dm", whole / 3600, (whole % 3600) / 60);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatPercent(double fraction) {
  if (!std::isfinite(fraction)) return "?";
  return absl::StrFormat("%.0f%%", std::floor(fraction * 100.0));
}

}  // namespace quantd::client
