"""Fixtures: a quantd per test module and a fake worker attached to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
