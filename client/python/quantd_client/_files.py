"""Local-file helpers shared by the clients: content hashes, safe artifact
paths and upload chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

from quantd_client import errors
from quantd_client.v1 import jobs_pb2

CHUNK_BYTES = 1 << 20


def blob_of(path: Path) -> str:
    """"sha256:<hex>" of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def safe_path(dest: Path, name: str) -> Path:
    """dest/name for an artifact name, refusing absolute paths and `..`."""
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise errors.InvalidArgumentError(
            f"artifact name {name!r} is not a safe relative path")
    return dest.joinpath(*parts)


def upload_chunks(path: Path, blob: str,
                  kind: str) -> Iterator[jobs_pb2.UploadBlobChunk]:
    """The UploadBlob stream of a file: its header, then its bytes."""
    yield jobs_pb2.UploadBlobChunk(header=jobs_pb2.UploadBlobHeader(
        blob=blob, size_bytes=path.stat().st_size, kind=kind,
        file_name=path.name))
    with path.open("rb") as file:
        for block in iter(lambda: file.read(CHUNK_BYTES), b""):
            yield jobs_pb2.UploadBlobChunk(data=block)
