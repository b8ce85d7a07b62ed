"""The quantd-client package itself: its vendored stubs match proto/, its
version follows the API's, and its wheel is self-contained (the stubs
inside, no top-level `quantd`, the dependency ranges of the generator)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser

import quantd_client
from package_build import PACKAGE, build_wheel
from quantd_client.v1 import (GRPC_GENERATED_VERSION,
                              PROTOBUF_GENERATED_VERSION, jobs_pb2)


def test_vendored_stubs_are_generated_from_the_current_protos():
    check = subprocess.run(
        [sys.executable, str(PACKAGE / "generate_stubs.py"), "--check"],
        capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


def test_version_follows_the_api_version():
    assert quantd_client.API_VERSION == "v1"
    major, minor, patch = quantd_client.__version__.split(".")
    assert major == quantd_client.API_VERSION[1:]
    assert minor.isdigit() and patch.isdigit()
    service = jobs_pb2.DESCRIPTOR.services_by_name["JobService"]
    assert service.full_name == f"quantd.{quantd_client.API_VERSION}.JobService"


def test_wheel_is_self_contained(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    top_levels = {name.split("/")[0] for name in names}
    assert top_levels == {"quantd_client",
                          f"quantd_client-{quantd_client.__version__}.dist-info"}
    for stub in ("jobs_pb2.py", "jobs_pb2.pyi", "jobs_pb2_grpc.py",
                 "types_pb2.py", "types_pb2.pyi", "worker_pb2.py"):
        assert f"quantd_client/v1/{stub}" in names
    assert "quantd_client/py.typed" in names
    assert "quantd_client/mlflow.py" in names and "quantd_client/aio.py" in names
    assert metadata["Version"] == quantd_client.__version__
    requires = metadata.get_all("Requires-Dist")
    assert f"grpcio<2,>={GRPC_GENERATED_VERSION}" in requires, requires
    major = int(PROTOBUF_GENERATED_VERSION.split(".")[0])
    assert f"protobuf<{major + 1},>={PROTOBUF_GENERATED_VERSION}" in requires, requires
    assert any(r.startswith("mlflow-skinny") and 'extra == "mlflow"' in r
               for r in requires), requires
