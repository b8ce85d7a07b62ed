"""A small typed wrapper over the generated quantd.v1 stubs: submit, wait
(following WatchJob across dropped streams), fetch (resumable and
hash-checked), list, cancel and upload, with gRPC errors mapped to the
exceptions in quantd_client.errors.

Thread-safety: a Client may be shared between threads (gRPC channels are);
each call is independent.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, List, Mapping, Optional, Sequence

import grpc

from quantd.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2
from quantd_client import errors
from quantd_client.spec import make_spec

#: Codes after which a broken WatchJob/DownloadArtifact stream is reopened.
_STREAM_BREAKS = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN, grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
})
_TERMINAL = frozenset({types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED,
                       types_pb2.JOB_STATE_CANCELLED})
_CHUNK_BYTES = 1 << 20


def state_name(state: int) -> str:
    """"SUCCEEDED" for JOB_STATE_SUCCEEDED."""
    return types_pb2.JobState.Name(state).removeprefix("JOB_STATE_")


def is_terminal(state: int) -> bool:
    return state in _TERMINAL


class Client:
    """A connection to quantd's JobService.

    `address` is host:port; `token` is sent as "authorization: Bearer
    <token>" (default: $QUANTD_TOKEN when set). TLS is used when `tls` is
    true (system roots) or any PEM argument is given: `root_certificates`
    (the CA that signed quantd's certificate) and, for mutual TLS,
    `private_key` with `certificate_chain` (both or neither).
    """

    def __init__(self, address: str, token: Optional[str] = None, *,
                 tls: bool = False,
                 root_certificates: Optional[bytes] = None,
                 private_key: Optional[bytes] = None,
                 certificate_chain: Optional[bytes] = None,
                 timeout_seconds: float = 60.0,
                 max_reconnects: int = 10,
                 backoff_seconds: float = 0.2) -> None:
        if (private_key is None) != (certificate_chain is None):
            raise ValueError("a client certificate needs both private_key "
                             "and certificate_chain")
        self.address = address
        self._token = token if token is not None else os.environ.get("QUANTD_TOKEN")
        self._timeout = timeout_seconds
        self._max_reconnects = max_reconnects
        self._backoff = backoff_seconds
        if tls or root_certificates is not None or private_key is not None:
            credentials = grpc.ssl_channel_credentials(
                root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(address, credentials)
        else:
            self._channel = grpc.insecure_channel(address)
        self._stub = jobs_pb2_grpc.JobServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- unary calls ------------------------------------------------------

    def _metadata(self) -> Sequence[tuple]:
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    def _call(self, method: Callable, request):
        try:
            return method(request, timeout=self._timeout,
                          metadata=self._metadata())
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error, self.address) from None

    def submit(self, spec: Optional[types_pb2.JobSpec] = None, *,
               request_id: Optional[str] = None, validate_only: bool = False,
               **kwargs) -> types_pb2.Job:
        """Submits `spec`, or a spec built by make_spec(**kwargs). The
        request id (idempotency key) defaults to a random UUID."""
        if spec is None:
            spec = make_spec(**kwargs)
        elif kwargs:
            raise TypeError("pass either a spec or keyword arguments, not both")
        request = jobs_pb2.SubmitJobRequest(
            request_id=request_id or str(uuid.uuid4()), spec=spec,
            validate_only=validate_only)
        return self._call(self._stub.SubmitJob, request)

    def get(self, job_id: str) -> types_pb2.Job:
        return self._call(self._stub.GetJob, jobs_pb2.GetJobRequest(id=job_id))

    def cancel(self, job_id: str, reason: str = "") -> types_pb2.Job:
        return self._call(self._stub.CancelJob,
                          jobs_pb2.CancelJobRequest(id=job_id, reason=reason))

    def artifacts(self, job_id: str) -> List[types_pb2.Artifact]:
        response = self._call(self._stub.ListArtifacts,
                              jobs_pb2.ListArtifactsRequest(job_id=job_id))
        return list(response.artifacts)

    def list(self, *, states: Sequence[int] = (),
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
                if error.code() not in _STREAM_BREAKS:
                    raise errors.from_rpc_error(error, self.address) from None
                reason = error
            fruitless = 0 if delivered else fruitless + 1
            if delivered:
                backoff = self._backoff
            if fruitless > self._max_reconnects:
                if reason is not None:
                    raise errors.from_rpc_error(reason, self.address) from None
                raise errors.UnavailableError(
                    f"event stream of {job_id} keeps ending early",
                    code=grpc.StatusCode.UNAVAILABLE)
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

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

    def upload(self, path: os.PathLike | str, kind: str = "model") -> str:
        """Uploads a file as a content-addressed blob; returns its
        "sha256:<hex>" reference (usable as a model or dataset)."""
        path = Path(path)
        digest = hashlib.sha256()
        with path.open("rb") as file:
            for block in iter(lambda: file.read(_CHUNK_BYTES), b""):
                digest.update(block)
        blob = "sha256:" + digest.hexdigest()

        def chunks() -> Iterator[jobs_pb2.UploadBlobChunk]:
            yield jobs_pb2.UploadBlobChunk(header=jobs_pb2.UploadBlobHeader(
                blob=blob, size_bytes=path.stat().st_size, kind=kind,
                file_name=path.name))
            with path.open("rb") as file:
                for block in iter(lambda: file.read(_CHUNK_BYTES), b""):
                    yield jobs_pb2.UploadBlobChunk(data=block)

        try:
            response = self._stub.UploadBlob(chunks(), metadata=self._metadata())
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error, self.address) from None
        return response.blob

    def fetch(self, job_id: str, dest: os.PathLike | str,
              names: Optional[Sequence[str]] = None) -> List[Path]:
        """Downloads the job's artifacts (or those named) under `dest`,
        keeping their relative names. Resumes from "<file>.part" files and
        checks every file's sha256; returns the paths written."""
        written = []
        for artifact in self.artifacts(job_id):
            if names is not None and artifact.name not in names:
                continue
            target = _safe_path(Path(dest), artifact.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._download(job_id, artifact, target)
            written.append(target)
        return written

    def _download(self, job_id: str, artifact: types_pb2.Artifact,
                  target: Path) -> None:
        if target.exists() and _blob_of(target) == artifact.blob:
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
                if error.code() not in _STREAM_BREAKS:
                    raise errors.from_rpc_error(error, self.address) from None
                reason = error
            failures = 0 if part.stat().st_size > offset else failures + 1
            if failures > self._max_reconnects:
                if reason is not None:
                    raise errors.from_rpc_error(reason, self.address) from None
                raise errors.UnavailableError(
                    f"download of {artifact.name} keeps ending early",
                    code=grpc.StatusCode.UNAVAILABLE)
            if part.stat().st_size < artifact.size_bytes:
                time.sleep(self._backoff)
        if _blob_of(part) != artifact.blob:
            part.unlink()
            raise errors.IntegrityError(
                f"{target}: downloaded bytes do not hash to {artifact.blob}; "
                "the partial file was removed, fetch again",
                code=grpc.StatusCode.DATA_LOSS)
        part.replace(target)

    def _receive(self, job_id: str, artifact: types_pb2.Artifact, part: Path,
                 offset: int) -> None:
        request = jobs_pb2.DownloadArtifactRequest(
            job_id=job_id, name=artifact.name, offset=offset)
        with part.open("ab") as file:
            for chunk in self._stub.DownloadArtifact(request,
                                                     metadata=self._metadata()):
                if chunk.offset != offset or chunk.blob != artifact.blob:
                    raise errors.IntegrityError(
                        f"{artifact.name}: server sent offset {chunk.offset} of "
                        f"{chunk.blob}, expected {offset} of {artifact.blob}",
                        code=grpc.StatusCode.DATA_LOSS)
                file.write(chunk.data)
                file.flush()
                offset += len(chunk.data)


def _safe_path(dest: Path, name: str) -> Path:
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise errors.InvalidArgumentError(f"artifact name {name!r} is not a safe relative path")
    return dest.joinpath(*parts)


def _blob_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_CHUNK_BYTES), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()
