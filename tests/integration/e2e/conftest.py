"""Fixtures: a quantd with real quantd-worker processes attached, torn down
(and their logs printed, which pytest shows for a failed test) after each
test."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_harness import Quantd, Worker  # noqa: E402
from harness.quantd_cluster import wait_for_workers  # noqa: E402


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def _cluster(scratch: Path, workers: int, lease_timeout_seconds: float,
             **worker_args) -> Iterator[Tuple[Quantd, List[Worker]]]:
    server = Quantd(scratch / "quantd", lease_timeout_seconds)
    started: List[Worker] = []
    try:
        for i in range(workers):
            started.append(Worker(scratch, server.address, f"w-{i + 1}",
                                  **worker_args))
        wait_for_workers(server.workers, workers, started)
        yield server, started
    finally:
        for worker in started:
            worker.stop()
            print(f"---- {worker.worker_id} log (tail)\n{_tail(worker.log())}")
        server.stop()
        print(f"---- quantd log (tail)\n{_tail(server.log())}")


@pytest.fixture
def cluster(tmp_path):
    """cluster(workers=2, lease_timeout_seconds=30, extra_args=..., env=...)
    starts quantd and the workers; everything stops after the test. The
    lease timeout is long by default so that a busy machine never expires
    a live worker's lease; tests that kill a worker shorten it."""
    stack = contextlib.ExitStack()

    def start(workers: int = 1, lease_timeout_seconds: float = 30,
              **worker_args) -> Tuple[Quantd, List[Worker]]:
        return stack.enter_context(_cluster(tmp_path, workers,
                                            lease_timeout_seconds,
                                            **worker_args))

    with stack:
        yield start
