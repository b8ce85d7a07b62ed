"""Real processes for the end-to-end tests: quantd on loopback (ephemeral
ports, its own data directory), quantd-worker processes running the real
quantd-engine, quantctl, and helpers over the JobService stubs.

The processes and the binaries' paths come from tests/harness
(quantd_cluster.py: $QUANTD, $QUANTD_WORKER, $QUANTD_ENGINE and $QUANTCTL
as ctest sets them, or the build directory); the models from
<repo>/models (scripts/bootstrap) and the data from $QUANTD_DATA_DIR or
<repo>/../shared/data/wikitext-2. Anything missing fails the test.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import grpc
from google.protobuf import json_format

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/

from harness import quantd_cluster  # noqa: E402
from harness.quantd_cluster import (REPO, binary, clean_env,  # noqa: E402,F401
                                    quantctl, require, smollm2)
from quantd.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2  # noqa: E402

MINILM = REPO / "models/all-minilm-l6-v2"

TERMINAL = {types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED,
            types_pb2.JOB_STATE_CANCELLED}


def data_dir() -> Path:
    path = Path(os.environ.get("QUANTD_DATA_DIR",
                               REPO.parent / "shared/data/wikitext-2"))
    require(path / "wiki.valid.tokens", "set QUANTD_DATA_DIR to WikiText-2")
    require(path / "wiki.test.raw", "set QUANTD_DATA_DIR to WikiText-2")
    return path


def minilm() -> Path:
    return require(MINILM / "model.safetensors", "run scripts/bootstrap").parent


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


class Quantd(quantd_cluster.Quantd):
    """quantd on 127.0.0.1 with fast heartbeats, no requeue backoff and the
    given lease timeout (a killed worker's job is requeued that long after
    its last heartbeat), and JobService helpers."""

    def __init__(self, scratch: Path, lease_timeout_seconds: float):
        super().__init__(
            scratch, ["--lease.heartbeat_interval_seconds", "0.5",
                      "--lease.timeout_seconds", str(lease_timeout_seconds),
                      "--lease.backoff_base_seconds", "0",
                      "--scheduler.tick_interval_seconds", "0.2",
                      "--shutdown.grace_seconds", "1"],
            allowed_roots=[REPO / "models", scratch], env=clean_env())
        self._channel = grpc.insecure_channel(self.address)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self._channel)

    def stop(self) -> int:
        self._channel.close()
        return super().stop()

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


class Worker(quantd_cluster.Worker):
    """A quantd-worker process running the real engine, with one engine
    thread (so that a resumed job is byte-identical to an uninterrupted
    one) and the default checkpoint upload interval (the first checkpoint
    of a lease goes at once)."""

    def __init__(self, scratch: Path, address: str, worker_id: str,
                 extra_args: Iterable[str] = (),
                 env: Optional[Dict[str, str]] = None):
        super().__init__(
            scratch, address, worker_id,
            ["--engine-threads", "1", "--data-dir", str(data_dir()),
             "--cancel-grace-seconds", "20", *extra_args],
            engine=binary("QUANTD_ENGINE", "worker/engine/cli/quantd-engine"),
            work_dir=scratch / f"work-{worker_id}",
            log_path=scratch / f"{worker_id}.log", env=clean_env(env),
            stop_timeout=60)


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
