"""What the blocking and the asyncio client share about streams: which
breaks are resumed, how a download chunk is checked and finished, and the
error raised when a stream keeps breaking."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import grpc

from quantd_client import _files, errors
from quantd_client.v1 import jobs_pb2, types_pb2

#: Codes after which a broken WatchJob/DownloadArtifact stream is reopened.
STREAM_BREAKS = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN, grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
})

#: Longest pause between two attempts to reopen a stream.
MAX_STREAM_BACKOFF_SECONDS = 5.0


def check_chunk(chunk: jobs_pb2.DownloadArtifactChunk,
                artifact: types_pb2.Artifact, offset: int) -> None:
    """Raises IntegrityError unless `chunk` continues `artifact` at `offset`."""
    if chunk.offset != offset or chunk.blob != artifact.blob:
        raise errors.IntegrityError(
            f"{artifact.name}: server sent offset {chunk.offset} of "
            f"{chunk.blob}, expected {offset} of {artifact.blob}",
            code=grpc.StatusCode.DATA_LOSS)


def finish_download(part: Path, target: Path,
                    artifact: types_pb2.Artifact) -> None:
    """Renames a complete `part` file to `target` once its hash matches;
    removes it and raises IntegrityError otherwise."""
    if _files.blob_of(part) != artifact.blob:
        part.unlink()
        raise errors.IntegrityError(
            f"{target}: downloaded bytes do not hash to {artifact.blob}; "
            "the partial file was removed, fetch again",
            code=grpc.StatusCode.DATA_LOSS)
    part.replace(target)


def gave_up(reason: Optional[grpc.RpcError], address: str,
            what: str) -> errors.QuantdError:
    """The error for a stream that broke too often without progress."""
    if reason is not None:
        return errors.from_rpc_error(reason, address)
    return errors.UnavailableError(f"{what} keeps ending early",
                                   code=grpc.StatusCode.UNAVAILABLE)
