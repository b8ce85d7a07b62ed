"""A scripted JobService on loopback for what a healthy quantd will not do
on demand: drop WatchJob and DownloadArtifact streams mid-way, serve bytes
that do not match their hash, reject a missing bearer token, and list
workers. The real quantd covers everything else."""

from __future__ import annotations

import hashlib
from concurrent import futures
from typing import List, Optional

import grpc

from quantd.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2, worker_pb2

JOB_ID = "j-01J0000000000000000000FAKE"


class FakeJobService(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, events: int = 12, drop_every: int = 5,
                 data: bytes = b"", drop_after_chunks: int = 0,
                 corrupt: bool = False, token: Optional[str] = None):
        self.events = events
        self.drop_every = drop_every
        self.data = data
        self.blob = "sha256:" + hashlib.sha256(data).hexdigest()
        self.drop_after_chunks = drop_after_chunks
        self.corrupt = corrupt
        self.token = token
        self.watch_requests: List[int] = []
        self.download_offsets: List[int] = []
        self.seen_tokens: List[str] = []

    def _check_token(self, context) -> None:
        metadata = dict(context.invocation_metadata())
        self.seen_tokens.append(metadata.get("authorization", ""))
        if self.token is not None and metadata.get("authorization") != f"Bearer {self.token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    def _job(self) -> types_pb2.Job:
        job = types_pb2.Job(id=JOB_ID, state=types_pb2.JOB_STATE_SUCCEEDED, attempt=1,
                            last_sequence=self.events + 1)
        job.spec.method = "osplus"
        job.spec.scheme.preset = "w8a8"
        job.result.metric = "perplexity"
        job.result.fp_value = 10.0
        job.result.quantized_value = 10.25
        return job

    def GetJob(self, request, context):
        self._check_token(context)
        if request.id != JOB_ID:
            context.abort(grpc.StatusCode.NOT_FOUND, f"id: job {request.id} not found")
        return self._job()

    def WatchJob(self, request, context):
        self._check_token(context)
        self.watch_requests.append(request.after_sequence)
        sent = 0
        for sequence in range(request.after_sequence + 1, self.events + 2):
            if self.drop_every and sent == self.drop_every:
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset by fake")
            event = types_pb2.JobEvent(job_id=JOB_ID, sequence=sequence)
            event.time.seconds = 1735812672 + sequence
            if sequence == self.events + 1:
                event.terminal.state = types_pb2.JOB_STATE_SUCCEEDED
            else:
                event.progress.stage = "quantize"
                event.progress.block_index = sequence - 1
                event.progress.block_count = self.events
                event.progress.fraction = sequence / (self.events + 1)
            sent += 1
            yield event

    def ListArtifacts(self, request, context):
        self._check_token(context)
        return jobs_pb2.ListArtifactsResponse(artifacts=[types_pb2.Artifact(
            name="model/weights.bin", kind="model", blob=self.blob,
            size_bytes=len(self.data))])

    def DownloadArtifact(self, request, context):
        self._check_token(context)
        self.download_offsets.append(request.offset)
        chunk_bytes = 64 << 10
        data = bytearray(self.data)
        if self.corrupt:
            data[len(data) // 2] ^= 0xFF
        for index, start in enumerate(range(request.offset, len(data), chunk_bytes)):
            if (self.drop_after_chunks and len(self.download_offsets) == 1
                    and index == self.drop_after_chunks):
                context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset by fake")
            yield jobs_pb2.DownloadArtifactChunk(
                offset=start, data=bytes(data[start:start + chunk_bytes]),
                total_size_bytes=len(data), blob=self.blob)

    def ListWorkers(self, request, context):
        self._check_token(context)
        worker = jobs_pb2.WorkerInfo(worker_id="gpu-0", alive=True, job_ids=[JOB_ID])
        worker.capabilities.devices.append(worker_pb2.Device(
            name="cuda:0", model="H100", memory_bytes=80 << 30))
        worker.capabilities.methods.extend(["rtn", "osplus"])
        worker.capabilities.max_concurrent_jobs = 2
        lost = jobs_pb2.WorkerInfo(worker_id="gpu-1", alive=False)
        workers = [worker, lost] if request.include_lost else [worker]
        return jobs_pb2.ListWorkersResponse(workers=workers)


class FakeServer:
    """Serves a FakeJobService on 127.0.0.1 (ephemeral port); over TLS when
    given `credentials` (grpc.ssl_server_credentials)."""

    def __init__(self, service: FakeJobService,
                 credentials: Optional[grpc.ServerCredentials] = None):
        self.service = service
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        jobs_pb2_grpc.add_JobServiceServicer_to_server(service, self._server)
        if credentials is None:
            port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            port = self._server.add_secure_port("127.0.0.1:0", credentials)
        self._server.start()
        self.address = f"127.0.0.1:{port}"

    def stop(self) -> None:
        self._server.stop(grace=None)
