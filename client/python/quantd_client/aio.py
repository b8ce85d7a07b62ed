"""The asyncio client (grpc.aio): the blocking Client's methods, awaitable.

    import asyncio
    from quantd_client import aio

    async def main():
        async with aio.Client("127.0.0.1:7070") as client:
            job = await client.submit(model="model.gguf", method="osplus",
                                      scheme="w8a8")
            async for event in client.watch(job.id):
                print(event)

    asyncio.run(main())

One Client serves any number of concurrent calls and watches in its event
loop; it must be created and used in that loop. Unary calls are retried on
UNAVAILABLE like the blocking client's (quantd_client.retry); watch and
fetch resume broken streams. Hashing local files runs in a worker thread so
that the loop stays responsive.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import (AsyncIterator, Awaitable, Callable, List, Mapping,
                    Optional, Sequence, TypeVar)

import grpc
import grpc.aio

from quantd_client import _channel, _files, errors
from quantd_client._streams import (MAX_STREAM_BACKOFF_SECONDS, STREAM_BREAKS,
                                    check_chunk, finish_download, gave_up)
from quantd_client.retry import RetryPolicy, is_retryable
from quantd_client.spec import make_spec, request_id_for
from quantd_client.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2

__all__ = ["Client"]

Response = TypeVar("Response")


class Client:
    """An asyncio connection to quantd's JobService; the arguments are the
    blocking quantd_client.Client's."""

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
            self._channel = grpc.aio.insecure_channel(
                address, options=_channel.CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.secure_channel(
                address, credentials, options=_channel.CHANNEL_OPTIONS)
        self._stub = jobs_pb2_grpc.JobServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- unary calls ------------------------------------------------------

    def _metadata(self) -> Sequence[tuple]:
        return _channel.metadata(self._token)

    async def _retrying(self, send: Callable[[], Awaitable[Response]]
                        ) -> Response:
        attempts = 0
        for delay in self._retry.delays():
            attempts += 1
            try:
                return await send()
            except grpc.RpcError as error:
                if delay is None or not is_retryable(error):
                    raise errors.from_rpc_error(error, self.address,
                                                attempts) from None
            await asyncio.sleep(delay)
        raise AssertionError("RetryPolicy.delays() ended without None")

    async def _call(self, method: Callable, request):
        return await self._retrying(lambda: method(
            request, timeout=self._timeout, metadata=self._metadata()))

    async def submit(self, spec: Optional[types_pb2.JobSpec] = None, *,
                     request_id: Optional[str] = None,
                     validate_only: bool = False, **kwargs) -> types_pb2.Job:
        """As Client.submit: idempotent, the request id derived from the
        spec unless given."""
        if spec is None:
            spec = make_spec(**kwargs)
        elif kwargs:
            raise TypeError("pass either a spec or keyword arguments, not both")
        request = jobs_pb2.SubmitJobRequest(
            request_id=request_id or request_id_for(spec), spec=spec,
            validate_only=validate_only)
        return await self._call(self._stub.SubmitJob, request)

    async def get(self, job_id: str) -> types_pb2.Job:
        return await self._call(self._stub.GetJob,
                                jobs_pb2.GetJobRequest(id=job_id))

    async def cancel(self, job_id: str, reason: str = "") -> types_pb2.Job:
        """As Client.cancel."""
        try:
            return await self._call(
                self._stub.CancelJob,
                jobs_pb2.CancelJobRequest(id=job_id, reason=reason))
        except errors.RejectedError as error:
            if error.attempts > 1:
                job = await self.get(job_id)
                if job.state == types_pb2.JOB_STATE_CANCELLED:
                    return job
            raise

    async def artifacts(self, job_id: str) -> List[types_pb2.Artifact]:
        response = await self._call(
            self._stub.ListArtifacts,
            jobs_pb2.ListArtifactsRequest(job_id=job_id))
        return list(response.artifacts)

    async def list(self, *, states: Sequence[types_pb2.JobState] = (),
                   labels: Optional[Mapping[str, str]] = None,
                   limit: int = 100, order: str = "desc"
                   ) -> List[types_pb2.Job]:
        """As Client.list."""
        jobs: List[types_pb2.Job] = []
        token = ""
        while len(jobs) < limit:
            request = jobs_pb2.ListJobsRequest(
                states=list(states), labels=dict(labels or {}),
                page_size=min(limit - len(jobs), 1000), page_token=token,
                order_by=f"create_time {order}")
            page = await self._call(self._stub.ListJobs, request)
            jobs.extend(page.jobs)
            token = page.next_page_token
            if not token or not page.jobs:
                break
        return jobs

    async def upload(self, path: os.PathLike | str, kind: str = "model") -> str:
        """As Client.upload."""
        path = Path(path)
        blob = await asyncio.to_thread(_files.blob_of, path)
        response = await self._retrying(lambda: self._stub.UploadBlob(
            _files.upload_chunks(path, blob, kind), metadata=self._metadata()))
        return response.blob

    # -- streams ----------------------------------------------------------

    async def watch(self, job_id: str, after_sequence: int = 0
                    ) -> AsyncIterator[types_pb2.JobEvent]:
        """As Client.watch: the events after `after_sequence` up to the
        terminal one, resuming a dropped stream without gap or repeat."""
        last = after_sequence
        fruitless = 0
        backoff = self._backoff
        while True:
            delivered = False
            reason: Optional[grpc.RpcError] = None
            try:
                stream = self._stub.WatchJob(
                    jobs_pb2.WatchJobRequest(id=job_id, after_sequence=last),
                    metadata=self._metadata())
                async for event in stream:
                    if event.sequence <= last:
                        continue
                    last = event.sequence
                    delivered = True
                    yield event
                    if event.HasField("terminal"):
                        stream.cancel()
                        return
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
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_STREAM_BACKOFF_SECONDS)

    async def wait(self, job_id: str, *,
                   on_progress: Optional[Callable[[types_pb2.Progress], None]] = None,
                   on_event: Optional[Callable[[types_pb2.JobEvent], None]] = None
                   ) -> types_pb2.Job:
        """As Client.wait: until the job ends; returns it."""
        async for event in self.watch(job_id):
            if on_event is not None:
                on_event(event)
            if on_progress is not None and event.HasField("progress"):
                on_progress(event.progress)
        return await self.get(job_id)

    async def fetch(self, job_id: str, dest: os.PathLike | str,
                    names: Optional[Sequence[str]] = None) -> List[Path]:
        """As Client.fetch: resumable, hash-checked downloads under `dest`."""
        written = []
        for artifact in await self.artifacts(job_id):
            if names is not None and artifact.name not in names:
                continue
            target = _files.safe_path(Path(dest), artifact.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            await self._download(job_id, artifact, target)
            written.append(target)
        return written

    async def _download(self, job_id: str, artifact: types_pb2.Artifact,
                        target: Path) -> None:
        if (target.exists() and
                await asyncio.to_thread(_files.blob_of, target) == artifact.blob):
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
                await self._receive(job_id, artifact, part, offset)
            except grpc.RpcError as error:
                if error.code() not in STREAM_BREAKS:
                    raise errors.from_rpc_error(error, self.address) from None
                reason = error
            failures = 0 if part.stat().st_size > offset else failures + 1
            if failures > self._max_reconnects:
                raise gave_up(reason, self.address,
                              f"download of {artifact.name}")
            if part.stat().st_size < artifact.size_bytes:
                await asyncio.sleep(self._backoff)
        await asyncio.to_thread(finish_download, part, target, artifact)

    async def _receive(self, job_id: str, artifact: types_pb2.Artifact,
                       part: Path, offset: int) -> None:
        request = jobs_pb2.DownloadArtifactRequest(
            job_id=job_id, name=artifact.name, offset=offset)
        with part.open("ab") as file:
            async for chunk in self._stub.DownloadArtifact(
                    request, metadata=self._metadata()):
                check_chunk(chunk, artifact, offset)
                file.write(chunk.data)
                file.flush()
                offset += len(chunk.data)
