"""Builds the quantd-client wheel and installs it into a fresh virtual
environment, as a pipeline would; shared by the package test here and the
end-to-end pipeline test (tests/integration/e2e)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

PACKAGE = Path(__file__).resolve().parents[3] / "client" / "python"


def build_wheel(scratch: Path) -> Path:
    """The wheel of client/python, built from a copy of it (a build writes
    build/ and *.egg-info beside its sources) without network access: the
    build backend (setuptools) is the one installed here."""
    source = scratch / "source"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__"))
    dist = scratch / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check",
                    "-q", "-w", str(dist), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    wheels = list(dist.glob("quantd_client-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def clean_environment(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """This environment without PYTHONPATH, virtualenv markers or QUANTD_*
    settings: what a pipeline step starts with."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items()
           if k not in dropped and not k.startswith("QUANTD_")}
    env.update(extra or {})
    return env


def fresh_venv(scratch: Path, wheel: Path) -> Path:
    """A new virtual environment (no system site-packages) with `wheel`
    and its dependencies from the package index; returns its python."""
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                   timeout=300, env=clean_environment())
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q",
         "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=600,
        env=clean_environment())
    assert install.returncode == 0, install.stdout + install.stderr
    return python
