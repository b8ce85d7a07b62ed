#include "worker/agent/retry.h"

#include <algorithm>

namespace quantd::agent {

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

Backoff::Backoff(const RetryPolicy& policy)
    : policy_(policy), next_(policy.initial_backoff) {}

bool Backoff::Wait(absl::Notification* interrupt) {
  const absl::Duration delay = next_;
  next_ = std::min(next_ * 2, policy_.max_backoff);
  if (interrupt == nullptr) {
    absl::SleepFor(delay);
    return true;
  }
  return !interrupt->WaitForNotificationWithTimeout(delay);
}

void Backoff::Reset() { next_ = policy_.initial_backoff; }

}  // namespace quantd::agent
