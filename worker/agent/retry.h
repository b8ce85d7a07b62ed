// Retrying calls to the scheduler: which status codes are worth another
// attempt, and an exponential backoff whose waits end early when the
// caller is told to stop.
//
// Thread-safety: Backoff is not thread-safe (one per retry loop); the
// Notification it waits on may be notified from any thread.
#pragma once

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace quantd::agent {

struct RetryPolicy {
  // Attempts in all, including the first; >= 1.
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
};

// Transient failures: the scheduler restarting, a dropped stream, a
// deadline. Never FAILED_PRECONDITION (the lease is lost), INVALID_ARGUMENT,
// NOT_FOUND or the authentication errors, which another try cannot fix.
bool IsRetryable(const absl::Status& status);

class Backoff {
 public:
  explicit Backoff(const RetryPolicy& policy);

  // Waits for the next backoff period; returns false at once when
  // `interrupt` (may be null) is notified first.
  bool Wait(absl::Notification* interrupt);
  void Reset();

 private:
  const RetryPolicy policy_;
  absl::Duration next_;
};

}  // namespace quantd::agent
