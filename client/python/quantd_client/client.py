"""The blocking client: a small typed wrapper over the quantd.v1 stubs.

submit, wait (following WatchJob across dropped streams), fetch (resumable
and hash-checked), list, cancel and upload, with gRPC errors mapped to the
exceptions in quantd_client.errors and unary calls retried on UNAVAILABLE
(quantd_client.retry). quantd_client.aio.Client has the same methods for
asyncio.

Thread-safety: a Client may be shared between threads (gRPC channels are);
each call is independent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import (Callable, Iterator, List, Mapping, Optional, Sequence,
                    TypeVar)

import grpc

from quantd_client import _channel, _files, errors
from quantd_client._streams import (MAX_STREAM_BACKOFF_SECONDS, STREAM_BREAKS,
                                    check_chunk, finish_download, gave_up)
from quantd_client.retry import RetryPolicy, is_retryable
from quantd_client.spec import make_spec, request_id_for
from quantd_client.states import is_terminal, state_name
from quantd_client.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2

__all__ = ["Client", "is_terminal", "state_name"]

Response = TypeVar("Response")


class Client:
    """A connection to quantd's JobService.

    `address` is host:port; `token` is sent as "authorization: Bearer
    <token>" (default: $QUANTD_TOKEN when set). TLS is used when `tls` is
    true (system roots) or any PEM argument is given: `root_certificates`
    (the CA that signed quantd's certificate) and, for mutual TLS,
    `private_key` with `certificate_chain` (both or neither).
    `timeout_seconds` bounds each unary call; `retry` says how unary calls
    are retried on UNAVAILABLE; a broken stream is reopened up to
    `max_reconnects` times in a row without progress, `backoff_seconds`
    apart at first.
    """

    def __init__(self, address: str, token: Optional[str] = None, *,
                 tls: bool = False,
                 root_certificates: Optional[bytes] = None,
                 private_key: Optional[bytes] = None,
                 certificate_chain: Optional[bytes] = None,
                 timeout_seconds: float = 60.0,
                 max_reconnects: int = 10,
                 backoff_seconds: float = 0.2,
                 retry: Optional[RetryPolicy] = None) -> None:
        credentials = _channel.credentials(tls, root_certificates,
                                           private_key, certificate_chain)
        self.address = address
        self._token = _channel.token_or_environment(token)
        self._timeout = timeout_seconds
        self._max_reconnects = max_reconnects
        self._backoff = backoff_seconds
        self._retry = retry or RetryPolicy()
        if credentials is None:
            self._channel = grpc.insecure_channel(
                address, options=_channel.CHANNEL_OPTIONS)
        else:
            self._channel = grpc.secure_channel(
                address, credentials, options=_channel.CHANNEL_OPTIONS)
        self._stub = jobs_pb2_grpc.JobServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- unary calls ------------------------------------------------------

    def _metadata(self) -> Sequence[tuple]:
        return _channel.metadata(self._token)

    def _retrying(self, send: Callable[[], Response]) -> Response:
        """send() until it succeeds, fails for good, or the retry policy
        gives up; failures are raised as QuantdError."""
        attempts = 0
        for delay in self._retry.delays():
            attempts += 1
            try:
                return send()
            except grpc.RpcError as error:
                if delay is None or not is_retryable(error):
                    raise errors.from_rpc_error(error, self.address,
                                                attempts) from None
            time.sleep(delay)
        raise AssertionError("RetryPolicy.delays() ended without None")

    def _call(self, method: Callable, request):
        return self._retrying(lambda: method(
            request, timeout=self._timeout, metadata=self._metadata()))

    def submit(self, spec: Optional[types_pb2.JobSpec] = None, *,
               request_id: Optional[str] = None, validate_only: bool = False,
               **kwargs) -> types_pb2.Job:
        """Submits `spec`, or a spec built by make_spec(**kwargs).

        Idempotent: the request id defaults to one derived from the spec
        (spec.request_id_for), so a retried or repeated submit of the same
        spec returns the first job. Pass `request_id` for a new job."""
        if spec is None:
            spec = make_spec(**kwargs)
        elif kwargs:
            raise TypeError("pass either a spec or keyword arguments, not both")
        request = jobs_pb2.SubmitJobRequest(
            request_id=request_id or request_id_for(spec), spec=spec,
            validate_only=validate_only)
        return self._call(self._stub.SubmitJob, request)

    def get(self, job_id: str) -> types_pb2.Job:
        return self._call(self._stub.GetJob, jobs_pb2.GetJobRequest(id=job_id))

    def cancel(self, job_id: str, reason: str = "") -> types_pb2.Job:
        """Cancels the job (see docs/API.md). A cancel that was retried
        and finds the job already CANCELLED returns it: the first attempt
        did it."""
        try:
            return self._call(self._stub.CancelJob,
                              jobs_pb2.CancelJobRequest(id=job_id, reason=reason))
        except errors.RejectedError as error:
            if error.attempts > 1:
                job = self.get(job_id)
                if job.state == types_pb2.JOB_STATE_CANCELLED:
                    return job
            raise

    def artifacts(self, job_id: str) -> List[types_pb2.Artifact]:
        response = self._call(self._stub.ListArtifacts,
                              jobs_pb2.ListArtifactsRequest(job_id=job_id))
        return list(response.artifacts)

    def list(self, *, states: Sequence[types_pb2.JobState] = (),
             labels: Optional[Mapping[str, str]] = None, limit: int = 100,
             order: str = "desc") -> List[types_pb2.Job]:
        """Up to `limit` jobs, newest first (order="asc": oldest first),
        following pages as needed."""
        jobs: List[types_pb2.Job] = []
        token = ""
        while len(jobs) < limit:
            request = jobs_pb2.ListJobsRequest(
                states=list(states), labels=dict(labels or {}),
                page_size=min(limit - len(jobs), 1000), page_token=token,
                order_by=f"create_time {order}")
            page = self._call(self._stub.ListJobs, request)
            jobs.extend(page.jobs)
            token = page.next_page_token
            if not token or not page.jobs:
                break
        return jobs

    def upload(self, path: os.PathLike | str, kind: str = "model") -> str:
        """Uploads a file as a content-addressed blob; returns its
        "sha256:<hex>" reference (usable as a model or dataset)."""
        path = Path(path)
        blob = _files.blob_of(path)
        response = self._retrying(lambda: self._stub.UploadBlob(
            _files.upload_chunks(path, blob, kind), metadata=self._metadata()))
        return response.blob

    # -- streams ----------------------------------------------------------

    def watch(self, job_id: str, after_sequence: int = 0
              ) -> Iterator[types_pb2.JobEvent]:
        """Yields the job's events after `after_sequence` up to and
        including the terminal one. A dropped stream is reopened after the
        last sequence seen, so no event is lost or repeated."""
        last = after_sequence
        fruitless = 0
        backoff = self._backoff
        while True:
            delivered = False
            try:
                stream = self._stub.WatchJob(
                    jobs_pb2.WatchJobRequest(id=job_id, after_sequence=last),
                    metadata=self._metadata())
                for event in stream:
                    if event.sequence <= last:
                        continue
                    last = event.sequence
                    delivered = True
                    yield event
                    if event.HasField("terminal"):
                        return
                reason: Optional[grpc.RpcError] = None
            except grpc.RpcError as error:
                if error.code() not in STREAM_BREAKS:
                    raise errors.from_rpc_error(error, self.address) from None
                reason = error
            fruitless = 0 if delivered else fruitless + 1
            if delivered:
                backoff = self._backoff
            if fruitless > self._max_reconnects:
                raise gave_up(reason, self.address,
                                      f"event stream of {job_id}")
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_STREAM_BACKOFF_SECONDS)

    def wait(self, job_id: str, *,
             on_progress: Optional[Callable[[types_pb2.Progress], None]] = None,
             on_event: Optional[Callable[[types_pb2.JobEvent], None]] = None
             ) -> types_pb2.Job:
        """Blocks until the job ends and returns it (check `.state`).
        `on_progress` gets every Progress, `on_event` every event."""
        for event in self.watch(job_id):
            if on_event is not None:
                on_event(event)
            if on_progress is not None and event.HasField("progress"):
                on_progress(event.progress)
        return self.get(job_id)

    def fetch(self, job_id: str, dest: os.PathLike | str,
              names: Optional[Sequence[str]] = None) -> List[Path]:
        """Downloads the job's artifacts (or those named) under `dest`,
        keeping their relative names. Resumes from "<file>.part" files,
        skips files already there with the right hash and checks every
        file's sha256; returns the paths of the artifacts."""
        written = []
        for artifact in self.artifacts(job_id):
            if names is not None and artifact.name not in names:
                continue
            target = _files.safe_path(Path(dest), artifact.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._download(job_id, artifact, target)
            written.append(target)
        return written

    def _download(self, job_id: str, artifact: types_pb2.Artifact,
                  target: Path) -> None:
        if target.exists() and _files.blob_of(target) == artifact.blob:
            return
        part = target.with_name(target.name + ".part")
        if part.exists() and part.stat().st_size > artifact.size_bytes:
            part.unlink()
        part.touch()
        failures = 0
        while part.stat().st_size < artifact.size_bytes:
            offset = part.stat().st_size
            reason: Optional[grpc.RpcError] = None
            try:
                self._receive(job_id, artifact, part, offset)
            except grpc.RpcError as error:
                if error.code() not in STREAM_BREAKS:
                    raise errors.from_rpc_error(error, self.address) from None
                reason = error
            failures = 0 if part.stat().st_size > offset else failures + 1
            if failures > self._max_reconnects:
                raise gave_up(reason, self.address,
                                      f"download of {artifact.name}")
            if part.stat().st_size < artifact.size_bytes:
                time.sleep(self._backoff)
        finish_download(part, target, artifact)

    def _receive(self, job_id: str, artifact: types_pb2.Artifact, part: Path,
                 offset: int) -> None:
        request = jobs_pb2.DownloadArtifactRequest(
            job_id=job_id, name=artifact.name, offset=offset)
        with part.open("ab") as file:
            for chunk in self._stub.DownloadArtifact(request,
                                                     metadata=self._metadata()):
                check_chunk(chunk, artifact, offset)
                file.write(chunk.data)
                file.flush()
                offset += len(chunk.data)

