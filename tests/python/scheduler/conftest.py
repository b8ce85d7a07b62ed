"""Fixtures for pytest suites that run against a real quantd process.

The daemon binary comes from $QUANTD_BINARY_DIR/server/quantd and the
generated stubs from $QUANTD_BINARY_DIR/python (on PYTHONPATH). Each test
gets its own quantd on 127.0.0.1 with ephemeral ports and a temporary data
directory; the grpc.health.v1 and reflection stubs are generated from the
Debian grpc-proto files into a temporary directory.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import grpc
import pytest

from quantd.v1 import jobs_pb2_grpc, worker_pb2_grpc

GRPC_PROTO_DIR = pathlib.Path("/usr/share/grpc-proto")


def _binary_dir() -> pathlib.Path:
    value = os.environ.get("QUANTD_BINARY_DIR")
    assert value, "QUANTD_BINARY_DIR must point at the build directory"
    return pathlib.Path(value)


class Quantd:
    """A running quantd; stops it (SIGTERM, then SIGKILL) on close()."""

    def __init__(self, data_dir: pathlib.Path, args):
        binary = _binary_dir() / "server" / "quantd"
        assert binary.exists(), f"{binary} is not built"
        self.data_dir = data_dir
        port_file = data_dir / "ports"
        self.log_path = data_dir / "quantd.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(binary), "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
             f"--data_dir={data_dir / 'data'}", f"--port_file={port_file}",
             "--store.sqlite_synchronous=normal", "--shutdown.grace_seconds=2",
             *args],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        ports = {}
        while time.monotonic() < deadline:
            if port_file.exists():
                for line in port_file.read_text().splitlines():
                    key, _, value = line.partition("=")
                    ports[key] = int(value)
                if {"grpc", "metrics"} <= ports.keys():
                    break
            assert self.process.poll() is None, self.log()
            time.sleep(0.02)
        else:
            raise AssertionError("quantd did not start:\n" + self.log())
        self.grpc_port = ports["grpc"]
        self.metrics_port = ports["metrics"]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self.workers = worker_pb2_grpc.WorkerGatewayStub(self.channel)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> int:
        self.channel.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


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
        quantd = Quantd(data_dir, [f"--allowed-root={model_root}", *args])
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
