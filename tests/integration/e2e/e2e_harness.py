"""Real processes for the end-to-end tests: quantd on loopback (ephemeral
ports, its own data directory), quantd-worker processes running the real
quantd-engine, quantctl, and helpers over the JobService stubs.

Binaries come from $QUANTD, $QUANTD_WORKER, $QUANTD_ENGINE and $QUANTCTL
(set by ctest) or the build directory $QUANTD_BINARY_DIR; the models from
<repo>/models (scripts/bootstrap) and the data from $QUANTD_DATA_DIR or
<repo>/../shared/data/wikitext-2. Anything missing fails the test.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import grpc
from google.protobuf import json_format

from quantd.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2

REPO = Path(os.environ.get("QUANTD_SOURCE_DIR",
                           Path(__file__).resolve().parents[3]))
BUILD = Path(os.environ.get("QUANTD_BINARY_DIR", REPO / "build"))
SMOLLM2 = REPO / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM = REPO / "models/all-minilm-l6-v2"

TERMINAL = {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED,
            types_pb2.JOB_STATE_CANCELLED}


def binary(env_name: str, relative: str) -> Path:
    """A built executable; raises (fails, never skips) when missing."""
    path = Path(os.environ.get(env_name, BUILD / relative))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: build it (ninja {path.name}) or set {env_name}")
    return path


def require(path: Path, hint: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: {hint}")
    return path


def data_dir() -> Path:
    path = Path(os.environ.get("QUANTD_DATA_DIR",
                               REPO.parent / "shared/data/wikitext-2"))
    require(path / "wiki.valid.tokens", "set QUANTD_DATA_DIR to WikiText-2")
    require(path / "wiki.test.raw", "set QUANTD_DATA_DIR to WikiText-2")
    return path


def smollm2() -> Path:
    return require(SMOLLM2, "run scripts/bootstrap")


def minilm() -> Path:
    return require(MINILM / "model.safetensors", "run scripts/bootstrap").parent


def clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """This process's environment without QUANTD_* variables, which the
    daemons and quantctl would read as configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTD_")}
    env.update(extra or {})
    return env


def tiny_spec(model: Path, method: str = "rtn", **extra) -> types_pb2.JobSpec:
    """A JobSpec small enough for a 2-core machine: 2 calibration windows
    of 64 tokens, 512 evaluation tokens, packed weights only."""
    spec = {
        "model": {"uri": f"file://{model}"},
        "method": method,
        "scheme": {"preset": "w8a8"},
        "calibration": {"n_samples": 2, "seq_len": 64, "seed": "7"},
        "evaluation": {"seq_len": 256, "max_tokens": "512"},
        "export_formats": ["EXPORT_FORMAT_PACKED_INT"],
    }
    spec.update(extra)
    return json_format.ParseDict(spec, types_pb2.JobSpec())


def spec_json(spec: types_pb2.JobSpec) -> str:
    """The JobSpec as quantd-worker writes spec.json for the engine."""
    return json_format.MessageToJson(spec, preserving_proto_field_name=True)


class Quantd:
    """quantd on 127.0.0.1 with fast heartbeats, no requeue backoff and the
    given lease timeout (a killed worker's job is requeued that long after
    its last heartbeat)."""

    def __init__(self, scratch: Path, lease_timeout_seconds: float):
        self.dir = scratch
        self.dir.mkdir(parents=True, exist_ok=True)
        port_file = self.dir / "ports"
        self.log_path = self.dir / "quantd.log"
        args = [str(binary("QUANTD", "server/quantd")),
                "--listen", "127.0.0.1:0", "--metrics_listen", "127.0.0.1:0",
                "--data_dir", str(self.dir / "data"),
                "--port_file", str(port_file),
                "--allowed-root", str(REPO / "models"),
                "--allowed-root", str(self.dir),
                "--lease.heartbeat_interval_seconds", "0.5",
                "--lease.timeout_seconds", str(lease_timeout_seconds),
                "--lease.backoff_base_seconds", "0",
                "--scheduler.tick_interval_seconds", "0.2",
                "--shutdown.grace_seconds", "1"]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(args, stdout=self._log,
                                        stderr=subprocess.STDOUT,
                                        env=clean_env())
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("quantd did not start:\n" + self.log())
            time.sleep(0.05)
        ports = dict(line.split("=") for line in port_file.read_text().split())
        self.address = f"127.0.0.1:{ports['grpc']}"
        self._channel = grpc.insecure_channel(self.address)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self._channel)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        self._channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    # -- JobService ---------------------------------------------------------

    def submit(self, spec: types_pb2.JobSpec) -> types_pb2.Job:
        return self.jobs.SubmitJob(jobs_pb2.SubmitJobRequest(
            request_id=uuid.uuid4().hex, spec=spec), timeout=30)

    def get(self, job_id: str) -> types_pb2.Job:
        return self.jobs.GetJob(jobs_pb2.GetJobRequest(id=job_id), timeout=10)

    def artifacts(self, job_id: str) -> List[types_pb2.Artifact]:
        return list(self.jobs.ListArtifacts(
            jobs_pb2.ListArtifactsRequest(job_id=job_id), timeout=10).artifacts)

    def events(self, job_id: str) -> List[types_pb2.JobEvent]:
        """Every event of a finished job, in order."""
        stream = self.jobs.WatchJob(jobs_pb2.WatchJobRequest(id=job_id),
                                    timeout=30)
        return list(stream)

    def download(self, job_id: str, name: str) -> bytes:
        chunks = self.jobs.DownloadArtifact(jobs_pb2.DownloadArtifactRequest(
            job_id=job_id, name=name), timeout=120)
        return b"".join(chunk.data for chunk in chunks)

    def workers(self) -> list:
        return list(self.jobs.ListWorkers(jobs_pb2.ListWorkersRequest(),
                                          timeout=10).workers)

    def wait(self, job_id: str, done: Callable[[types_pb2.Job], bool],
             timeout: float, what: str) -> types_pb2.Job:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if done(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} not {what} after {timeout:.0f} s: state "
                    f"{types_pb2.JobState.Name(job.state)}, progress "
                    f"{job.progress.stage} {job.progress.block_index}")
            time.sleep(0.2)

    def wait_terminal(self, job_id: str, timeout: float) -> types_pb2.Job:
        return self.wait(job_id, lambda job: job.state in TERMINAL, timeout,
                         "finished")


class Worker:
    """A quantd-worker process running the real engine, with one engine
    thread (so that a resumed job is byte-identical to an uninterrupted
    one) and the default checkpoint upload interval (the first checkpoint
    of a lease goes at once)."""

    def __init__(self, scratch: Path, address: str, worker_id: str,
                 extra_args: Iterable[str] = (),
                 env: Optional[Dict[str, str]] = None):
        self.worker_id = worker_id
        self.work_dir = scratch / f"work-{worker_id}"
        self.log_path = scratch / f"{worker_id}.log"
        args = [str(binary("QUANTD_WORKER", "worker/agent/quantd-worker")),
                "--scheduler", address, "--worker-id", worker_id,
                "--work-dir", str(self.work_dir),
                "--engine", str(binary("QUANTD_ENGINE",
                                       "worker/engine/cli/quantd-engine")),
                "--engine-threads", "1", "--data-dir", str(data_dir()),
                "--lease-wait-seconds", "1", "--metrics-listen", "off",
                "--nvidia-smi", "off", "--cancel-grace-seconds", "20",
                *extra_args]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(args, stdout=self._log,
                                        stderr=subprocess.STDOUT,
                                        env=clean_env(env))

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no release, no cleanup; the lease must expire."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def wait_for_workers(server: Quantd, count: int, workers: List[Worker],
                     timeout: float = 180) -> None:
    """Until `count` workers are registered (each probes the engine
    first, which loads LibTorch: seconds on a busy machine)."""
    deadline = time.monotonic() + timeout
    while len(server.workers()) < count:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"{worker.worker_id} exited:\n{worker.log()}")
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not register:\n" +
                               "\n".join(w.log() for w in workers))
        time.sleep(0.2)


def quantctl(address: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    command = [str(binary("QUANTCTL", "client/quantctl")), *args,
               "--addr", address]
    env = clean_env({"HOME": tempfile.gettempdir()})
    env.pop("XDG_CONFIG_HOME", None)
    return subprocess.run(command, capture_output=True, text=True,
                          timeout=timeout, env=env)


def engine_processes(marker: str) -> List[int]:
    """Pids of live quantd-engine processes whose command line contains
    `marker` (e.g. a job id, which names the work dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or not cmdline or b"quantd-engine" not in cmdline[0]:
            continue
        if any(marker.encode() in arg for arg in cmdline):
            pids.append(int(entry.name))
    return pids


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def log_events(events: Iterable[types_pb2.JobEvent]) -> List[str]:
    return [event.log.message for event in events if event.HasField("log")]


def resumed_after(events: Iterable[types_pb2.JobEvent]) -> List[int]:
    """The blocks the engine said it resumed after ("resuming after block
    N of M")."""
    blocks = []
    for message in log_events(events):
        match = re.match(r"resuming after block (\d+) of \d+", message)
        if match:
            blocks.append(int(match.group(1)))
    return blocks
