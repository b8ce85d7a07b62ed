"""Real processes and real credentials for the security tests: a PKI made
with the openssl command-line tool (CAs, a server certificate for
127.0.0.1/localhost, worker client certificates), a token file with
sha256-hashed tokens, a quantd process with any flags, a quantd-worker
process running the fake engine, gRPC stubs over plaintext or TLS, and
readers for quantd's audit log. The processes and the binaries' paths come
from tests/harness (quantd_cluster.py).

Nothing here skips: a missing binary or a failing openssl call fails the
test.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/

from harness import quantd_cluster  # noqa: E402
from harness.quantd_cluster import binary  # noqa: E402,F401
from quantd.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2, worker_pb2, worker_pb2_grpc  # noqa: E402


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def token_id(token: str) -> str:
    return sha256_hex(token)[:8]


# -- PKI --------------------------------------------------------------------

def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """Certificates under `root`: <name>.crt / <name>.key."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def ca(self, name: str) -> None:
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                 "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                 "-out", f"{name}.crt",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 cwd=self.root)

    def leaf(self, name: str, ca: str, usage: str) -> None:
        """A certificate signed by `ca`; usage "serverAuth" (for 127.0.0.1
        and localhost) or "clientAuth"."""
        ext = self.root / f"{name}.ext"
        lines = ["basicConstraints=CA:FALSE",
                 "keyUsage=critical,digitalSignature",
                 f"extendedKeyUsage={usage}"]
        if usage == "serverAuth":
            lines.append("subjectAltName=IP:127.0.0.1,DNS:localhost")
        ext.write_text("\n".join(lines) + "\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
                 f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 cwd=self.root)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt",
                 "-CAkey", f"{ca}.key", "-CAcreateserial", "-days", "2",
                 "-extfile", ext.name, "-out", f"{name}.crt", cwd=self.root)


def make_pki(root: Path) -> Pki:
    """server-ca signs `server` (and `server2` from rotate-ca); client-ca
    signs `worker-cert`; rogue-ca signs `rogue-cert`."""
    pki = Pki(root)
    for ca in ("server-ca", "rotate-ca", "client-ca", "rogue-ca"):
        pki.ca(ca)
    pki.leaf("server", "server-ca", "serverAuth")
    pki.leaf("server2", "rotate-ca", "serverAuth")
    pki.leaf("worker-cert", "client-ca", "clientAuth")
    pki.leaf("rogue-cert", "rogue-ca", "clientAuth")
    return pki


# -- tokens -----------------------------------------------------------------

# token -> (tenant, roles, extra fields)
TOKENS: Dict[str, tuple] = {
    "alice-token": ("acme", ["submit", "read"], {}),
    "acme-reader": ("acme", ["read"], {}),
    "bob-token": ("beta", ["submit", "read"], {}),
    "admin-token": ("ops", ["admin"], {}),
    "worker-token": ("pool", ["worker"], {}),
    "expired-token": ("acme", ["submit", "read"],
                      {"expires_at": "2020-01-01T00:00:00Z"}),
    "revoked-token": ("acme", ["submit", "read"], {"revoked": True}),
}


def write_tokens(path: Path, tokens: Dict[str, tuple] = TOKENS) -> None:
    """JSON (YAML's subset), keyed by sha256(token): no token is stored."""
    entries = {}
    for token, (tenant, roles, extra) in tokens.items():
        entries[sha256_hex(token)] = {"tenant": tenant, "roles": roles, **extra}
    path.write_text(json.dumps({"tokens": entries}, indent=1))


def bearer(token: Optional[str]) -> Sequence[tuple]:
    return (("authorization", f"Bearer {token}"),) if token else ()


# -- quantd -----------------------------------------------------------------

class Quantd(quantd_cluster.Quantd):
    """A quantd process on 127.0.0.1 (or `listen`) with its own data dir
    and any flags; audit() and wait_audit() read its audit log."""

    def __init__(self, scratch: Path, args: Sequence[str] = (),
                 listen: str = "127.0.0.1:0", wait: bool = True):
        super().__init__(scratch, ["--store.sqlite_synchronous", "normal",
                                   "--shutdown.grace_seconds", "1", *args],
                         listen=listen, wait=wait)


class Stubs:
    """JobService and WorkerGateway stubs on one channel."""

    def __init__(self, address: str, credentials=None):
        self.channel = (grpc.secure_channel(address, credentials)
                        if credentials is not None
                        else grpc.insecure_channel(address))
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self.workers = worker_pb2_grpc.WorkerGatewayStub(self.channel)

    def close(self) -> None:
        self.channel.close()


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    """Runs a call that must fail; returns its error."""
    try:
        result = call(*args, **kwargs)
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            list(result)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{call} succeeded")


# -- jobs -------------------------------------------------------------------

def make_model(root: Path, name: str = "tiny") -> Path:
    """A tiny HF-style model directory the scheduler can inspect."""
    model = root / name
    model.mkdir(parents=True, exist_ok=True)
    (model / "config.json").write_text(
        '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,'
        ' "num_hidden_layers": 2, "vocab_size": 100}')
    (model / "model.safetensors").write_bytes(b"\0" * 4096)
    return model


def spec_for(uri: str = "", blob: str = "", **labels: str) -> types_pb2.JobSpec:
    spec = types_pb2.JobSpec(method="rtn", labels=labels)
    if blob:
        spec.model.blob = blob
    else:
        spec.model.uri = uri
    spec.scheme.preset = "w8a8"
    spec.calibration.n_samples = 4
    spec.calibration.seq_len = 64
    return spec


def submit(stubs: Stubs, token: Optional[str], spec: types_pb2.JobSpec,
           request_id: str) -> types_pb2.Job:
    return stubs.jobs.SubmitJob(
        jobs_pb2.SubmitJobRequest(request_id=request_id, spec=spec),
        metadata=bearer(token), timeout=30)


def upload(stubs: Stubs, token: Optional[str], data: bytes,
           declared: Optional[str] = None) -> jobs_pb2.UploadBlobResponse:
    blob = declared or "sha256:" + hashlib.sha256(data).hexdigest()

    def chunks():
        yield jobs_pb2.UploadBlobChunk(header=jobs_pb2.UploadBlobHeader(
            blob=blob, size_bytes=len(data), kind="model", file_name="m.bin"))
        yield jobs_pb2.UploadBlobChunk(data=data)

    return stubs.jobs.UploadBlob(chunks(), metadata=bearer(token), timeout=30)


def register_worker(stubs: Stubs, token: Optional[str], worker_id: str,
                    max_jobs: int = 4) -> None:
    stubs.workers.RegisterWorker(worker_pb2.RegisterWorkerRequest(
        worker_id=worker_id,
        capabilities=worker_pb2.WorkerCapabilities(
            devices=[worker_pb2.Device(name="cuda:0", memory_bytes=80 << 30)],
            host_memory_bytes=256 << 30, engine_version="fake-0",
            methods=["rtn"], max_concurrent_jobs=max_jobs)),
        metadata=bearer(token), timeout=30)


def lease(stubs: Stubs, token: Optional[str], worker_id: str):
    response = stubs.workers.LeaseJob(
        worker_pb2.LeaseJobRequest(worker_id=worker_id, wait_seconds=0),
        metadata=bearer(token), timeout=30)
    return response.lease if response.HasField("lease") else None


# -- quantd-worker ----------------------------------------------------------

class Worker(quantd_cluster.Worker):
    """A quantd-worker process running the fake engine (jobs take
    milliseconds) against quantd at `address`, with any extra flags, in its
    own process group."""

    def __init__(self, scratch: Path, address: str, args: Sequence[str] = (),
                 worker_id: str = "sec-worker"):
        super().__init__(scratch, address, worker_id,
                         ["--rpc-timeout-seconds=10", *args], own_session=True)


def wait_for_state(stubs: Stubs, token: str, job_id: str,
                   states: Sequence[int], timeout: float = 60.0) -> types_pb2.Job:
    """Polls GetJob until the job reaches one of `states`."""
    deadline = time.monotonic() + timeout
    while True:
        job = stubs.jobs.GetJob(jobs_pb2.GetJobRequest(id=job_id),
                                metadata=bearer(token), timeout=10)
        if job.state in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck in {job.state}")
        time.sleep(0.1)
