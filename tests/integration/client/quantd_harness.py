"""Real processes for the client integration tests: a quantd scheduler on
loopback with ephemeral ports, a fake worker that leases jobs through the
WorkerGateway and plays a scripted run for each (succeed, fail, hang until
cancelled), and helpers to run quantctl. The processes and the binaries'
paths come from tests/harness (quantd_cluster.py).

The fake worker picks its script from the job's label "fake":
  succeed (default)  RUNNING, progress over `blocks` blocks, logs, two
                     artifacts (report.json and a 3 MiB model file), then
                     SUCCEEDED with a perplexity result
  fail               RUNNING, a log line, then FAILED (RESOURCE_EXHAUSTED)
  hang               RUNNING and slow progress until a cancel arrives
                     through the heartbeat, then CANCELLED
Label "blocks" sets the block count, "block_seconds" the time per block.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/

from harness import quantd_cluster  # noqa: E402
from harness.quantd_cluster import (REPO, binary, quantctl,  # noqa: E402,F401
                                    smollm2 as model_path)
from quantd.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2, worker_pb2, worker_pb2_grpc  # noqa: E402


class Quantd(quantd_cluster.Quantd):
    """A quantd process on 127.0.0.1 with its own data directory, fast
    heartbeats and ticks, and scratch/shared as an allowed root."""

    def __init__(self, scratch: Path, extra_args: Optional[List[str]] = None):
        (scratch / "shared").mkdir(parents=True, exist_ok=True)
        super().__init__(
            scratch, [*quantd_cluster.FAST_SCHEDULING, *(extra_args or [])],
            allowed_roots=[REPO / "models", scratch / "shared"])


def _blob(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeWorker:
    """Leases jobs from quantd and plays the script named by their labels.
    Runs its own threads; stop() joins them."""

    def __init__(self, address: str, worker_id: str = "fake-worker-1"):
        self.worker_id = worker_id
        self._channel = grpc.insecure_channel(address)
        self._gateway = worker_pb2_grpc.WorkerGatewayStub(self._channel)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._held: Dict[str, int] = {}
        self._cancel: Dict[str, threading.Event] = {}
        self._threads: List[threading.Thread] = []
        self.errors: List[str] = []
        capabilities = worker_pb2.WorkerCapabilities(
            devices=[worker_pb2.Device(name="cuda:0", model="Fake GPU",
                                       memory_bytes=80 << 30)],
            host_memory_bytes=256 << 30, engine_version="fake-0",
            methods=["rtn", "smoothquant", "os", "osplus", "omniquant",
                     "gptq", "awq"],
            max_concurrent_jobs=8)
        self._gateway.RegisterWorker(worker_pb2.RegisterWorkerRequest(
            worker_id=worker_id, capabilities=capabilities), timeout=10)
        for target in (self._lease_loop, self._heartbeat_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=15)
        self._channel.close()

    def _lease_loop(self) -> None:
        while not self._stop.is_set():
            try:
                response = self._gateway.LeaseJob(worker_pb2.LeaseJobRequest(
                    worker_id=self.worker_id, wait_seconds=0.3), timeout=10)
            except grpc.RpcError as error:
                if not self._stop.is_set():
                    self.errors.append(f"LeaseJob: {error.details()}")
                    time.sleep(0.2)
                continue
            if not response.HasField("lease"):
                continue
            lease = response.lease
            with self._lock:
                self._held[lease.job.id] = lease.fencing_token
                self._cancel[lease.job.id] = threading.Event()
            thread = threading.Thread(target=self._run, args=(lease,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                held = [worker_pb2.HeldLease(job_id=j, fencing_token=t)
                        for j, t in self._held.items()]
            try:
                response = self._gateway.Heartbeat(worker_pb2.HeartbeatRequest(
                    worker_id=self.worker_id, leases=held), timeout=5)
            except grpc.RpcError as error:
                if not self._stop.is_set():
                    self.errors.append(f"Heartbeat: {error.details()}")
                continue
            with self._lock:
                for job_id in response.cancel_job_ids:
                    if job_id in self._cancel:
                        self._cancel[job_id].set()

    # -- one job ------------------------------------------------------------

    def _run(self, lease: worker_pb2.Lease) -> None:
        job = lease.job
        script = job.spec.labels.get("fake", "succeed")
        try:
            if script == "fail":
                self._fail(job, lease.fencing_token)
            elif script == "hang":
                self._hang(job, lease.fencing_token)
            else:
                self._succeed(job, lease.fencing_token)
        except grpc.RpcError as error:
            self.errors.append(f"job {job.id}: {error.code()} {error.details()}")
        finally:
            with self._lock:
                self._held.pop(job.id, None)

    def _report(self, job_id: str, token: int, *events: types_pb2.JobEvent) -> None:
        self._gateway.ReportEvents(iter([worker_pb2.ReportEventsRequest(
            job_id=job_id, fencing_token=token, events=list(events))]), timeout=10)

    @staticmethod
    def _running() -> types_pb2.JobEvent:
        return types_pb2.JobEvent(state_change=types_pb2.StateChange(
            to=types_pb2.JOB_STATE_RUNNING))

    @staticmethod
    def _progress(stage: str, block: int, blocks: int, fraction: float,
                  eta: float = -1) -> types_pb2.JobEvent:
        return types_pb2.JobEvent(progress=types_pb2.Progress(
            stage=stage, block_index=block, block_count=blocks,
            fraction=fraction, eta_seconds=eta))

    @staticmethod
    def _log(level: str, message: str) -> types_pb2.JobEvent:
        return types_pb2.JobEvent(log=types_pb2.LogLine(level=level, message=message))

    def _succeed(self, job: types_pb2.Job, token: int) -> None:
        blocks = int(job.spec.labels.get("blocks", "4"))
        pause = float(job.spec.labels.get("block_seconds", "0.05"))
        self._report(job.id, token, self._running(),
                     self._log("info", "fake engine started"),
                     self._progress("load", 0, 0, 0.02),
                     self._progress("calibrate", 0, 0, 0.05))
        for block in range(blocks):
            time.sleep(pause)
            fraction = 0.05 + 0.8 * (block + 1) / blocks
            self._report(job.id, token, self._progress(
                "quantize", block, blocks, fraction, (blocks - block) * pause))
        self._report(job.id, token, self._log("warn", "block 1 has outliers"),
                     self._progress("evaluate", 0, 0, 0.9),
                     self._progress("export", 0, 0, 0.95))
        artifacts = [self._upload(job.id, token, "report.json", "report",
                                  json.dumps({"job": job.id}).encode()),
                     self._upload(job.id, token, "model/model.safetensors",
                                  "model", random.Random(job.id).randbytes(3 << 20))]
        result = types_pb2.JobResult(
            metric="perplexity", fp_value=20.0, quantized_value=20.5,
            eval_tokens=8192, eval_seq_len=512, wall_seconds=1.5,
            peak_host_memory_bytes=1 << 30, peak_device_memory_bytes=2 << 30,
            artifacts=artifacts)
        self._gateway.CompleteJob(worker_pb2.CompleteJobRequest(
            job_id=job.id, fencing_token=token,
            state=types_pb2.JOB_STATE_SUCCEEDED, result=result), timeout=10)

    def _fail(self, job: types_pb2.Job, token: int) -> None:
        self._report(job.id, token, self._running(),
                     self._log("error", "CUDA out of memory in block 3"))
        error = types_pb2.ErrorInfo(code=8, message="CUDA out of memory in block 3")
        self._gateway.CompleteJob(worker_pb2.CompleteJobRequest(
            job_id=job.id, fencing_token=token, state=types_pb2.JOB_STATE_FAILED,
            error=error, exit_status=3), timeout=10)

    def _hang(self, job: types_pb2.Job, token: int) -> None:
        self._report(job.id, token, self._running())
        cancel = self._cancel[job.id]
        block = 0
        while not cancel.wait(0.2) and not self._stop.is_set():
            self._report(job.id, token, self._progress("quantize", block % 30, 30, 0.1))
            block += 1
        if cancel.is_set():
            self._gateway.CompleteJob(worker_pb2.CompleteJobRequest(
                job_id=job.id, fencing_token=token,
                state=types_pb2.JOB_STATE_CANCELLED), timeout=10)

    def _upload(self, job_id: str, token: int, name: str, kind: str,
                data: bytes) -> types_pb2.Artifact:
        artifact = types_pb2.Artifact(name=name, kind=kind, blob=_blob(data),
                                      size_bytes=len(data))

        def chunks():
            yield worker_pb2.UploadArtifactChunk(header=worker_pb2.UploadArtifactHeader(
                job_id=job_id, fencing_token=token, artifact=artifact))
            for start in range(0, len(data), 1 << 20):
                yield worker_pb2.UploadArtifactChunk(data=data[start:start + (1 << 20)])

        return self._gateway.UploadArtifact(chunks(), timeout=30).artifact


def wait_for_state(address: str, job_id: str, states: set,
                   timeout: float = 30) -> types_pb2.Job:
    """Polls GetJob until the job is in one of `states` (or the timeout)."""
    with grpc.insecure_channel(address) as channel:
        stub = jobs_pb2_grpc.JobServiceStub(channel)
        deadline = time.monotonic() + timeout
        while True:
            job = stub.GetJob(jobs_pb2.GetJobRequest(id=job_id), timeout=10)
            if job.state in states or time.monotonic() > deadline:
                return job
            time.sleep(0.05)
