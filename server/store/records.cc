#include "server/store/records.h"

namespace quantd::store {

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

bool IsHeld(JobState state) {
  return state == JobState::kLeased || state == JobState::kRunning;
}

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "QUEUED";
    case JobState::kLeased:
      return "LEASED";
    case JobState::kRunning:
      return "RUNNING";
    case JobState::kSucceeded:
      return "SUCCEEDED";
    case JobState::kFailed:
      return "FAILED";
    case JobState::kCancelled:
      return "CANCELLED";
    case JobState::kUnspecified:
      break;
  }
  return "UNSPECIFIED";
}

}  // namespace quantd::store
