"""Fixtures for pytest suites that run against a real quantd process.

quantd is started by tests/harness/quantd_cluster.py (the binary from $QUANTD
or $QUANTD_BINARY_DIR/server/quantd); the generated stubs come from
$QUANTD_BINARY_DIR/python (on PYTHONPATH). Each test gets its own quantd on
127.0.0.1 with ephemeral ports and a temporary data directory; the
grpc.health.v1 and reflection stubs are generated from the Debian
grpc-proto files into a temporary directory.
"""

import pathlib
import shutil
import sys

import grpc
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # tests/

from harness import quantd_cluster  # noqa: E402
from quantd.v1 import jobs_pb2_grpc, worker_pb2_grpc  # noqa: E402

GRPC_PROTO_DIR = pathlib.Path("/usr/share/grpc-proto")


class Quantd(quantd_cluster.Quantd):
    """The harness's quantd (data in data_dir/data, log in
    data_dir/quantd.log) with `model_root` as allowed root, a relaxed SQLite
    sync and a short shutdown grace, plus gRPC stubs on a channel to it;
    close() closes the channel and stops it (SIGTERM, then SIGKILL)."""

    def __init__(self, data_dir: pathlib.Path, model_root: pathlib.Path,
                 args=()):
        super().__init__(
            data_dir, ["--store.sqlite_synchronous=normal",
                       "--shutdown.grace_seconds=2", *args],
            allowed_roots=[model_root], wait=False)
        self.wait_ready(timeout=60)
        self.data_dir = data_dir
        ports = self.ports()
        self.grpc_port = int(ports["grpc"])
        self.metrics_port = int(ports["metrics"])
        self.channel = grpc.insecure_channel(self.address)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self.workers = worker_pb2_grpc.WorkerGatewayStub(self.channel)

    def close(self) -> int:
        self.channel.close()
        return self.stop()


@pytest.fixture
def model_root(tmp_path):
    """An allowed root holding a tiny model directory named 'tiny'."""
    root = tmp_path / "models"
    tiny = root / "tiny"
    tiny.mkdir(parents=True)
    (tiny / "config.json").write_text(
        '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,'
        ' "num_hidden_layers": 2, "vocab_size": 100}')
    (tiny / "model.safetensors").write_bytes(b"\0" * 4096)
    return root


@pytest.fixture
def start_quantd(tmp_path, model_root):
    """Starts quantd instances with extra flags; all stop at teardown."""
    started = []

    def start(*args):
        data_dir = tmp_path / f"q{len(started)}"
        data_dir.mkdir()
        quantd = Quantd(data_dir, model_root, args)
        started.append(quantd)
        return quantd

    yield start
    for quantd in started:
        quantd.close()


@pytest.fixture
def quantd(start_quantd):
    return start_quantd()


@pytest.fixture(scope="session")
def grpc_std_stubs(tmp_path_factory):
    """Stubs for grpc.health.v1 and grpc.reflection.v1alpha, generated here
    as top-level modules (health_pb2, reflection_pb2, ...) so they do not
    collide with the installed grpc package."""
    assert GRPC_PROTO_DIR.exists(), "install the grpc-proto Debian package"
    out = tmp_path_factory.mktemp("grpc_std")
    from grpc_tools import protoc
    for proto in ("grpc/health/v1/health.proto",
                  "grpc/reflection/v1alpha/reflection.proto"):
        flat = out / pathlib.Path(proto).name
        shutil.copy(GRPC_PROTO_DIR / proto, flat)
        rc = protoc.main(["protoc", f"-I{out}", f"--python_out={out}",
                          f"--grpc_python_out={out}", str(flat)])
        assert rc == 0, f"protoc failed on {proto}"
    sys.path.insert(0, str(out))
    return out
