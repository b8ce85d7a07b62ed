"""quantd, quantd-worker and quantctl as real processes on loopback, for the
Python suites that drive them: tests/integration/e2e, tests/integration/
client (and tests/python/client through it), tests/integration/security,
tests/deploy/live and tests/python/scheduler. Each suite keeps only what is
its own (JobService helpers, the fake worker, the PKI and tokens, ...) and
builds on this.

Importing. This is the package `harness` in tests/: put tests/ on sys.path
and `from harness.quantd_cluster import Quantd, Worker, ...`. The suites do
that themselves (their harness module, or the test file, inserts tests/ at
the front of sys.path), so nothing more is needed under ctest or for a
plain run from the repository root:

    PYTHONPATH=build/python python3 -m pytest -q tests/integration/e2e

build/python holds the generated quantd.v1 stubs; ctest puts it on
PYTHONPATH in each test's ENVIRONMENT (tests/**/CMakeLists.txt).

Paths. REPO is $QUANTD_SOURCE_DIR or the checkout holding this file; BUILD
is $QUANTD_BINARY_DIR or REPO/build. binary("QUANTD", "server/quantd") is
$QUANTD or BUILD/server/quantd (likewise QUANTD_WORKER, QUANTD_ENGINE,
QUANTCTL, as ctest sets them); a missing binary or model raises, which
fails the test and never skips it.

Processes. Quantd(scratch, args) starts quantd on 127.0.0.1 with ephemeral
gRPC and metrics ports (read back from --port_file), its data under
scratch/data, its output in scratch/quantd.log, any --allowed-root and
further flags; stop() ends it. Worker(scratch, address, worker_id, ...)
starts quantd-worker (the scripted fake engine unless `engine` says
otherwise); wait_for_workers() waits until they have registered.
free_port() is a loopback port nothing listens on (for a quantd started
later on a known address, or another server).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

REPO = Path(os.environ.get("QUANTD_SOURCE_DIR",
                           Path(__file__).resolve().parents[2]))
BUILD = Path(os.environ.get("QUANTD_BINARY_DIR", REPO / "build"))
SMOLLM2 = REPO / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
FAKE_ENGINE = REPO / "worker/agent/testdata/fake_engine.py"

# quantd flags for quick tests: fast heartbeats and scheduler ticks, short
# cancel and shutdown grace periods.
FAST_SCHEDULING = ("--lease.heartbeat_interval_seconds", "0.2",
                   "--scheduler.tick_interval_seconds", "0.1",
                   "--cancel.grace_seconds", "5",
                   "--shutdown.grace_seconds", "1")


def binary(env_name: str, relative: str) -> Path:
    """A built executable, from $env_name or the build directory; raises
    (fails the test, never skips) when it is missing."""
    path = Path(os.environ.get(env_name, BUILD / relative))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: build it (ninja {path.name}) or set {env_name}")
    return path


def require(path: Path, hint: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: {hint}")
    return path


def smollm2() -> Path:
    """The SmolLM2 GGUF model of scripts/bootstrap."""
    return require(SMOLLM2, "run scripts/bootstrap")


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """This process's environment without QUANTD_* variables, which the
    daemons and quantctl would read as configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTD_")}
    env.update(extra or {})
    return env


def quantctl(address: Optional[str], *args: str, timeout: float = 60,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Runs quantctl with `args` (and --addr `address` when given), without
    QUANTD_* variables or a user configuration, and returns the finished
    process with text stdout/stderr."""
    command = [str(binary("QUANTCTL", "client/quantctl")), *args]
    if address is not None:
        command += ["--addr", address]
    full_env = clean_env({"HOME": tempfile.gettempdir()})
    full_env.pop("XDG_CONFIG_HOME", None)
    full_env.update(env or {})
    return subprocess.run(command, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def _stop(process: subprocess.Popen, timeout: float, group: bool) -> None:
    """SIGTERM (to the process group when `group`), SIGKILL after
    `timeout` seconds."""
    if process.poll() is not None:
        return
    send = (lambda sig: os.killpg(process.pid, sig)) if group else \
        process.send_signal
    send(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()


class Quantd:
    """A quantd process on 127.0.0.1 (or `listen`) with ephemeral ports and
    its own data directory scratch/data, started with `allowed_roots` as
    --allowed-root and then `args`. `wait` (the default) returns once the
    port file is written and sets `address`; `env` None inherits this
    process's environment."""

    def __init__(self, scratch: Path, args: Sequence[str] = (), *,
                 listen: str = "127.0.0.1:0",
                 allowed_roots: Sequence[Path] = (),
                 env: Optional[Dict[str, str]] = None, wait: bool = True):
        self.dir = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.port_file = scratch / "ports"
        self.log_path = scratch / "quantd.log"
        self.audit_path = scratch / "data" / "audit.jsonl"
        command = [str(binary("QUANTD", "server/quantd")), "--listen", listen,
                   "--metrics_listen", "127.0.0.1:0",
                   "--data_dir", str(scratch / "data"),
                   "--port_file", str(self.port_file)]
        for root in allowed_roots:
            command += ["--allowed-root", str(root)]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(command + list(args), stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env)
        self.address = ""
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        """Until the port file is written; sets `address`. Stops quantd and
        raises with its log when it exits first or `timeout` runs out."""
        deadline = time.monotonic() + timeout
        while not self.port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("quantd did not start:\n" + self.log())
            time.sleep(0.05)
        self.address = f"127.0.0.1:{self.ports()['grpc']}"

    def ports(self) -> Dict[str, str]:
        """The port file: {"grpc": ..., "metrics": ...}."""
        return dict(line.split("=") for line in self.port_file.read_text().split())

    def log(self) -> str:
        return (self.log_path.read_text(errors="replace")
                if self.log_path.exists() else "")

    def audit(self) -> List[dict]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    def wait_audit(self, predicate, timeout: float = 5.0) -> dict:
        """The first audit line matching `predicate` (lines are flushed one
        by one, a moment after the reply)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.audit():
                if predicate(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching audit line in {self.audit()}")
            time.sleep(0.05)

    def hangup(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> int:
        _stop(self.process, 15, group=False)
        self._log.close()
        return self.process.returncode


class Worker:
    """A quantd-worker process against quantd at `address`, running
    `engine` (the scripted fake engine by default: jobs take milliseconds),
    working in `work_dir` (scratch/work) and logging to `log_path`
    (scratch/worker.log), then any further `args`. `own_session` starts it
    in its own process group, which stop() then signals as a whole (engine
    included); stop() waits `stop_timeout` seconds before SIGKILL."""

    def __init__(self, scratch: Path, address: str, worker_id: str,
                 args: Sequence[str] = (), *, engine: Optional[Path] = None,
                 work_dir: Optional[Path] = None,
                 log_path: Optional[Path] = None,
                 metrics_listen: str = "off",
                 env: Optional[Dict[str, str]] = None,
                 own_session: bool = False, stop_timeout: float = 15):
        scratch.mkdir(parents=True, exist_ok=True)
        self.worker_id = worker_id
        self.metrics_port: Optional[int] = None
        self.work_dir = work_dir or scratch / "work"
        self.log_path = log_path or scratch / "worker.log"
        self._own_session = own_session
        self._stop_timeout = stop_timeout
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(binary("QUANTD_WORKER", "worker/agent/quantd-worker")),
             f"--scheduler={address}", f"--worker-id={worker_id}",
             f"--engine={engine or FAKE_ENGINE}",
             f"--work-dir={self.work_dir}", "--lease-wait-seconds=1",
             f"--metrics-listen={metrics_listen}", "--nvidia-smi=off", *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env,
            start_new_session=own_session)

    def log(self) -> str:
        return (self.log_path.read_text(errors="replace")
                if self.log_path.exists() else "")

    def wait_log(self, text: str, timeout: float = 30.0) -> str:
        """The first log line containing `text`."""
        deadline = time.monotonic() + timeout
        while True:
            exited = self.process.poll() is not None
            for line in self.log().splitlines():
                if text in line:
                    return line
            if exited or time.monotonic() > deadline:
                raise AssertionError(f"no log line with {text!r}:\n{self.log()}")
            time.sleep(0.05)

    def wait_metrics_port(self, timeout: float = 30.0) -> int:
        """Sets and returns `metrics_port`, the port it logged (with
        metrics_listen 127.0.0.1:0)."""
        line = self.wait_log("metrics on port ", timeout)
        self.metrics_port = int(re.search(r"metrics on port (\d+)", line).group(1))
        return self.metrics_port

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no release, no cleanup; the lease must expire."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        _stop(self.process, self._stop_timeout, group=self._own_session)
        self._log.close()
        return self.process.returncode


def wait_for_workers(list_workers: Callable[[], list], count: int,
                     workers: Sequence[Worker], timeout: float = 180) -> None:
    """Until `list_workers()` (e.g. JobService.ListWorkers) reports `count`
    workers; raises with their logs when one exits or time runs out (each
    probes its engine first: seconds on a busy machine)."""
    deadline = time.monotonic() + timeout
    while len(list_workers()) < count:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"{worker.worker_id} exited:\n{worker.log()}")
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not register:\n" +
                               "\n".join(w.log() for w in workers))
        time.sleep(0.2)
