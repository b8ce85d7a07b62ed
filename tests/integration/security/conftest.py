"""Fixtures: a PKI and a token file per session, and a token-protected
quantd on plaintext loopback per module (TLS tests start their own)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from security_harness import Quantd, Stubs, make_model, make_pki, write_tokens  # noqa: E402


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """An allowed root with a tiny model, and a file outside every root."""
    base = tmp_path_factory.mktemp("roots")
    models = base / "models"
    make_model(models)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text("not for tenants")
    return base


@pytest.fixture(scope="module")
def token_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    write_tokens(path)
    return path


@pytest.fixture(scope="module")
def quantd(tmp_path_factory, roots, token_file):
    server = Quantd(tmp_path_factory.mktemp("quantd"),
                    ["--auth.token_file", str(token_file),
                     "--allowed-root", str(roots / "models")])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stubs(quantd):
    channel = Stubs(quantd.address)
    yield channel
    channel.close()
