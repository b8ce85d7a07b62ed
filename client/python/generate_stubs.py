#!/usr/bin/env python3
"""Generates the vendored quantd.v1 stubs of the quantd_client package.

    python3 client/python/generate_stubs.py          # rewrite quantd_client/v1
    python3 client/python/generate_stubs.py --check  # exit 1 if they are stale

grpcio-tools (the version pinned in scripts/requirements.txt) compiles
proto/quantd/v1/*.proto into messages, type stubs (.pyi) and gRPC stubs,
whose imports are then moved from `quantd.v1` to `quantd_client.v1`, so the
installed package never clashes with another top-level `quantd` (such as
the build tree's stubs). The proto file names and packages are unchanged,
so the wire format and the descriptor pool entries are the same as the
build's.

--check also verifies that pyproject.toml's grpcio and protobuf ranges start
at the versions the generated code demands of its runtime.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parents[1] / "proto"
PROTOS = ("quantd/v1/types.proto", "quantd/v1/jobs.proto",
          "quantd/v1/worker.proto")
TARGET = HERE / "quantd_client" / "v1"
PYPROJECT = HERE / "pyproject.toml"

_INIT = '''"""quantd.v1 messages and gRPC stubs, generated from proto/quantd/v1 by
client/python/generate_stubs.py with grpcio-tools {grpc} (protobuf gencode
{protobuf}). Do not edit: run the generator after changing a .proto."""

GRPC_GENERATED_VERSION = "{grpc}"
PROTOBUF_GENERATED_VERSION = "{protobuf}"
'''


def _relocate(text: str) -> str:
    """Moves the generated modules from package quantd.v1 to
    quantd_client.v1 (imports, module names, messages)."""
    text = re.sub(r"^from quantd\.v1 import ", "from quantd_client.v1 import ",
                  text, flags=re.MULTILINE)
    text = re.sub(r"'quantd\.v1\.(\w+_pb2)'", r"'quantd_client.v1.\1'", text)
    return text.replace("generated code in quantd/v1/",
                        "generated code in quantd_client/v1/")


def _versions(files: Dict[str, str]) -> Dict[str, str]:
    """The grpcio and protobuf versions the generated code requires."""
    grpc = re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'",
                     files["jobs_pb2_grpc.py"])
    protobuf = re.search(r"Protobuf Python Version: ([\d.]+)",
                         files["jobs_pb2.py"])
    if not grpc or not protobuf:
        raise RuntimeError("cannot find the generator versions in the output")
    return {"grpc": grpc.group(1), "protobuf": protobuf.group(1)}


def generate() -> Dict[str, str]:
    """File name -> content of the stubs for the current protos."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "grpc_tools.protoc",
                   f"-I{PROTO_ROOT}", f"--python_out={out}",
                   f"--pyi_out={out}", f"--grpc_python_out={out}",
                   *(str(PROTO_ROOT / p) for p in PROTOS)]
        subprocess.run(command, check=True)
        files = {path.name: _relocate(path.read_text())
                 for path in sorted((Path(out) / "quantd" / "v1").iterdir())}
    files["__init__.py"] = _INIT.format(**_versions(files))
    return files


def check_pyproject(versions: Dict[str, str]) -> List[str]:
    """Problems with pyproject.toml's runtime ranges, one line each."""
    text = PYPROJECT.read_text()
    major = versions["protobuf"].split(".")[0]
    wanted = {"grpcio": f"grpcio>={versions['grpc']},<2",
              "protobuf": f"protobuf>={versions['protobuf']},<{int(major) + 1}"}
    return [f"pyproject.toml: dependency should read \"{spec}\""
            for spec in wanted.values() if f'"{spec}"' not in text]


def stale(files: Dict[str, str]) -> List[str]:
    """Vendored files that differ from `files`, or that should not exist."""
    problems = []
    for name, content in files.items():
        path = TARGET / name
        if not path.exists() or path.read_text() != content:
            problems.append(f"{path.relative_to(HERE)} differs from proto/")
    for path in TARGET.glob("*.py*"):
        if path.name not in files:
            problems.append(f"{path.relative_to(HERE)} is not generated")
    return problems


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="report stale stubs instead of writing them")
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        problems = stale(files) + check_pyproject(_versions(files))
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python3 client/python/generate_stubs.py (with the "
                  "grpcio-tools of scripts/requirements.txt)", file=sys.stderr)
        return 1 if problems else 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for path in TARGET.glob("*.py*"):
        if path.name not in files:
            path.unlink()
    for name, content in files.items():
        (TARGET / name).write_text(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
