"""When and how often the clients retry a call.

Every unary call of the clients is idempotent, so each is retried when it
fails with UNAVAILABLE (server restarting, connection refused or reset):
SubmitJob carries a request id (derived from the spec unless given), which
the server deduplicates; GetJob, ListJobs and ListArtifacts only read;
CancelJob on a job already being cancelled is a no-op (and a retried
cancel that finds the job CANCELLED returns it); UploadBlob is
content-addressed. Other codes are answers, not outages, and are raised at
once. Streams (WatchJob, DownloadArtifact) resume from where they broke
instead (see Client.watch and Client.fetch).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Optional

import grpc


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for calls that failed UNAVAILABLE.

    `max_attempts` counts the first try (1 disables retries). The n-th
    retry waits a random time in [delay/2, delay], where delay is
    `initial_backoff_seconds * multiplier**(n-1)` capped at
    `max_backoff_seconds`.
    """

    max_attempts: int = 5
    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("backoff times must not be negative")

    def delays(self) -> Iterator[Optional[float]]:
        """One item per attempt: the seconds to sleep after that attempt
        fails before the next one, or None after the last attempt."""
        delay = self.initial_backoff_seconds
        for _ in range(self.max_attempts - 1):
            capped = min(delay, self.max_backoff_seconds)
            yield random.uniform(capped / 2, capped)
            delay *= self.multiplier
        yield None


def is_retryable(error: grpc.RpcError) -> bool:
    """Whether a failed call may be sent again."""
    code = error.code() if hasattr(error, "code") else None
    return code == grpc.StatusCode.UNAVAILABLE
