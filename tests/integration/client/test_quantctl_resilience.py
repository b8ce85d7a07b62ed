"""quantctl against a scripted JobService: resuming dropped watch and
download streams, hash checking, bearer tokens and their exit codes, and
the workers view."""

from __future__ import annotations

import json
import os
import random
import subprocess

import grpc
import pytest

from fake_job_service import JOB_ID, FakeJobService, FakeServer
from quantd_harness import quantctl

EXIT_AUTH, EXIT_INTEGRITY = 4, 9


@pytest.fixture
def fake(request):
    server = FakeServer(FakeJobService(**getattr(request, "param", {})))
    yield server
    server.stop()


def test_watch_resumes_after_drops_without_gaps_or_duplicates(fake):
    run = quantctl(fake.address, "watch", JOB_ID)
    assert run.returncode == 0, run.stderr
    blocks = [line.split("block=")[1].split()[0]
              for line in run.stdout.splitlines() if "block=" in line]
    assert blocks == [f"{i}/12" for i in range(1, 13)]
    assert run.stdout.count("note=\"event stream lost") == 2
    assert fake.service.watch_requests == [0, 5, 10]
    assert "final=SUCCEEDED" in run.stdout
    assert "+2.50%" in run.stdout


@pytest.mark.parametrize("fake", [{"data": random.Random(7).randbytes(1 << 20),
                                   "drop_after_chunks": 5}], indirect=True)
def test_fetch_resumes_a_dropped_download(fake, tmp_path):
    run = quantctl(fake.address, "fetch", JOB_ID, "--dest", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "model/weights.bin").read_bytes() == fake.service.data
    assert fake.service.download_offsets == [0, 5 * (64 << 10)]


@pytest.mark.parametrize("fake", [{"data": os.urandom(300000), "corrupt": True}],
                         indirect=True)
def test_fetch_hash_mismatch_exits_with_integrity_code(fake, tmp_path):
    run = quantctl(fake.address, "fetch", JOB_ID, "--dest", str(tmp_path))
    assert run.returncode == EXIT_INTEGRITY
    assert "partial file was removed" in run.stderr
    assert not (tmp_path / "model/weights.bin").exists()
    assert not (tmp_path / "model/weights.bin.part").exists()


@pytest.mark.parametrize("fake", [{"token": "s3cret"}], indirect=True)
def test_token_from_flag_env_and_file(fake, tmp_path):
    no_token = quantctl(fake.address, "get", JOB_ID)
    assert no_token.returncode == EXIT_AUTH
    assert "--token or QUANTD_TOKEN" in no_token.stderr
    assert quantctl(fake.address, "get", JOB_ID, "--token", "s3cret").returncode == 0
    assert quantctl(fake.address, "get", JOB_ID,
                    env={"QUANTD_TOKEN": "s3cret"}).returncode == 0
    config = tmp_path / "quantd" / "quantctl.yaml"
    config.parent.mkdir()
    config.write_text(f"addr: {fake.address}\ntoken: s3cret\n")
    from_file = quantctl(None, "get", JOB_ID, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert from_file.returncode == 0, from_file.stderr
    assert fake.service.seen_tokens[-1] == "Bearer s3cret"


def test_workers_table_and_json(fake):
    table = quantctl(fake.address, "workers")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["WORKER", "ALIVE", "DEVICES"]
    assert "gpu-0" in table.stdout and "gpu-1" not in table.stdout
    everything = json.loads(quantctl(fake.address, "workers", "--all",
                                     "--output", "json").stdout)
    assert [w["worker_id"] for w in everything["workers"]] == ["gpu-0", "gpu-1"]
    assert everything["workers"][0]["methods"] == ["rtn", "osplus"]
    assert everything["workers"][0]["job_ids"] == [JOB_ID]


def self_signed(tmp_path):
    """A key and a certificate for 127.0.0.1, made with the openssl CLI."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=quantd-test",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


def test_tls_with_a_ca_file(tmp_path):
    key, cert = self_signed(tmp_path)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    server = FakeServer(FakeJobService(), credentials)
    try:
        secure = quantctl(server.address, "get", JOB_ID, "--tls.ca", str(cert),
                          "--output", "json")
        assert secure.returncode == 0, secure.stderr
        assert json.loads(secure.stdout)["id"] == JOB_ID
        via_env = quantctl(server.address, "get", JOB_ID,
                           env={"QUANTD_TLS_CA": str(cert)})
        assert via_env.returncode == 0, via_env.stderr
        plain = quantctl(server.address, "get", JOB_ID,
                         "--connect-timeout-seconds", "1")
        assert plain.returncode == 3  # a plaintext client never connects
        missing = quantctl(server.address, "get", JOB_ID, "--tls.ca",
                           str(tmp_path / "nope.pem"))
        assert missing.returncode == 2
        assert "--tls.ca: cannot read" in missing.stderr
    finally:
        server.stop()
