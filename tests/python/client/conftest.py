"""Fixtures for the Python client tests: the real quantd and fake worker of
the client integration harness (tests/integration/client)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "integration" / "client"
PACKAGE = Path(__file__).resolve().parents[3] / "client" / "python"
sys.path[:0] = [str(HARNESS), str(PACKAGE)]

from quantd_harness import FakeWorker, Quantd  # noqa: E402


@pytest.fixture(scope="module")
def quantd(tmp_path_factory):
    server = Quantd(tmp_path_factory.mktemp("quantd"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(quantd):
    fake = FakeWorker(quantd.address)
    yield fake
    fake.stop()
    assert not fake.errors, fake.errors
