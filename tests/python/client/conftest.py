"""Fixtures for the Python client tests: the real quantd and fake worker of
the client integration harness (tests/integration/client), a real
quantd-worker running the scripted fake engine of the worker's tests, and a
real MLflow tracking server on loopback. quantd and quantd-worker are
started by tests/harness/quantd_cluster.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "integration" / "client"
PACKAGE = Path(__file__).resolve().parents[3] / "client" / "python"
sys.path[:0] = [str(HARNESS), str(PACKAGE)]

try:
    # The package's own stubs first: with the build's stubs (imported by
    # the harness) they share one descriptor pool, which refuses two
    # different versions of a .proto file.
    import quantd_client  # noqa: E402,F401
    from quantd_harness import REPO, FakeWorker, Quantd  # noqa: E402
except TypeError as error:  # pragma: no cover - only with stale stubs
    raise RuntimeError(
        f"{error}: the stubs in client/python/quantd_client/v1 and the "
        "build's differ; run python3 client/python/generate_stubs.py and "
        "rebuild") from error

# tests/ is on sys.path now (quantd_harness put it there).
from harness import quantd_cluster  # noqa: E402
from harness.quantd_cluster import clean_env, free_port  # noqa: E402,F401


class Process:
    """The MLflow server: a child process in its own process group, its
    output in a log file; stop() ends the group (it forks web workers)."""

    def __init__(self, args, log_path: Path, env: Dict[str, str]) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(args, stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text()

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def start_agent(scratch: Path, address: str,
                concurrency: int = 4) -> quantd_cluster.Worker:
    """quantd-worker with the fake engine, attached to quantd at `address`,
    in its own process group."""
    return quantd_cluster.Worker(
        scratch, address, "py-client-agent",
        [f"--max-concurrent-jobs={concurrency}"], env=clean_env(),
        own_session=True, stop_timeout=20)


def start_quantd_at(scratch: Path, port: int) -> quantd_cluster.Quantd:
    """quantd listening on 127.0.0.1:`port` (the harness's Quantd picks an
    ephemeral port) with REPO/models as allowed root; returns once it
    listens."""
    return quantd_cluster.Quantd(
        scratch, listen=f"127.0.0.1:{port}", allowed_roots=[REPO / "models"],
        env=clean_env())


class MlflowServer:
    """`mlflow server` with a SQLite backend store on 127.0.0.1. Its first
    start runs MLflow's database migrations (about 10 s on 2 busy cores),
    so it is started as soon as a collected test needs it and waited for
    only when that test begins."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.uri = f"http://127.0.0.1:{free_port()}"
        self.process = Process(
            [sys.executable, "-m", "mlflow", "server",
             "--backend-store-uri", f"sqlite:///{scratch / 'mlflow.db'}",
             "--artifacts-destination", str(scratch / "artifacts"),
             "--host", "127.0.0.1", "--port", self.uri.rsplit(":", 1)[1],
             "--workers", "1"],
            scratch / "mlflow.log",
            # No background job runner: it needs packages the tracking
            # server does not, and the tests start no MLflow jobs.
            clean_env(
                {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}))

    def wait_until_healthy(self, timeout_seconds: float = 120) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2):
                    return
            except OSError:
                pass
            if not self.process.running() or time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start:\n" +
                                   self.process.log())
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)


_MLFLOW: Dict[str, MlflowServer] = {}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items) -> None:
    """Starts the MLflow server early when a selected test needs it."""
    if any("mlflow_uri" in getattr(item, "fixturenames", ()) for item in items):
        _MLFLOW["server"] = MlflowServer(
            Path(tempfile.mkdtemp(prefix="quantd-client-mlflow-")))


def pytest_unconfigure() -> None:
    server = _MLFLOW.pop("server", None)
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_uri() -> str:
    """The tracking URI of the session's MLflow server."""
    if "server" not in _MLFLOW:
        _MLFLOW["server"] = MlflowServer(
            Path(tempfile.mkdtemp(prefix="quantd-client-mlflow-")))
    _MLFLOW["server"].wait_until_healthy()
    return _MLFLOW["server"].uri


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


@pytest.fixture(scope="module")
def agent(quantd, tmp_path_factory):
    """A real quantd-worker running the fake engine (jobs take a fraction
    of a second; their progress events carry per-layer losses)."""
    process = start_agent(tmp_path_factory.mktemp("agent"), quantd.address)
    yield process
    process.stop()
    print("---- quantd-worker log (tail)\n" +
          "\n".join(process.log().splitlines()[-30:]))
