"""TLS end to end on loopback with certificates made by openssl: TLS for
clients and workers, mutual TLS for workers (a worker token is not enough
without a certificate from the client CA), a plaintext client against the
TLS port failing clearly, and certificate rotation on SIGHUP."""

from __future__ import annotations

import shutil
import subprocess
import time

import grpc
import pytest

from quantd.v1 import jobs_pb2
from quantd_client import Client, errors
from security_harness import (Quantd, Stubs, binary, bearer, register_worker,
                              rpc_error)


def creds(pki, ca="server-ca", cert=None):
    return grpc.ssl_channel_credentials(
        root_certificates=pki.read(f"{ca}.crt"),
        private_key=pki.read(f"{cert}.key") if cert else None,
        certificate_chain=pki.read(f"{cert}.crt") if cert else None)


def list_jobs(stubs, token="alice-token"):
    return stubs.jobs.ListJobs(jobs_pb2.ListJobsRequest(),
                               metadata=bearer(token), timeout=10)


@pytest.fixture(scope="module")
def mtls(tmp_path_factory, pki, token_file):
    """quantd with TLS and a client CA: workers need certificates."""
    server = Quantd(tmp_path_factory.mktemp("mtls"), [
        "--auth.token_file", str(token_file),
        "--tls.cert_file", str(pki.path("server.crt")),
        "--tls.key_file", str(pki.path("server.key")),
        "--tls.client_ca_file", str(pki.path("client-ca.crt"))])
    yield server
    server.stop()


def test_clients_need_no_certificate_but_workers_do(mtls, pki):
    user = Stubs(mtls.address, creds(pki))
    list_jobs(user)
    # A worker token over TLS without a client certificate is refused...
    error = rpc_error(register_worker, user, "worker-token", "w-nocert")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "client certificate" in error.details()
    mtls.wait_audit(lambda l: l.get("reason") == "client_certificate"
                    and l["tenant"] == "pool")
    # ...and so is a blob download by a worker without one.
    error = rpc_error(lambda: list(user.jobs.DownloadArtifact(
        jobs_pb2.DownloadArtifactRequest(blob="sha256:" + "0" * 64),
        metadata=bearer("worker-token"), timeout=10)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    user.close()
    # With a certificate from the client CA it works.
    worker = Stubs(mtls.address, creds(pki, cert="worker-cert"))
    register_worker(worker, "worker-token", "w-cert")
    # The certificate does not replace the token.
    error = rpc_error(register_worker, worker, None, "w-cert")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    worker.close()


def test_certificate_from_another_ca_fails_the_handshake(mtls, pki):
    rogue = Stubs(mtls.address, creds(pki, cert="rogue-cert"))
    error = rpc_error(register_worker, rogue, "worker-token", "w-rogue")
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    rogue.close()


def test_plaintext_client_against_tls_fails_clearly(mtls, pki):
    plain = Stubs(mtls.address)
    error = rpc_error(list_jobs, plain)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    plain.close()
    quantctl = binary("QUANTCTL", "client/quantctl")
    result = subprocess.run(
        [str(quantctl), "--addr", mtls.address, "--token", "alice-token",
         "--connect-timeout-seconds", "2", "list"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "TLS" in result.stderr and "--tls.ca" in result.stderr
    # The same call with the CA succeeds.
    result = subprocess.run(
        [str(quantctl), "--addr", mtls.address, "--token", "alice-token",
         "--tls.ca", str(pki.path("server-ca.crt")), "list"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_client_trusting_another_ca_is_refused(mtls, pki):
    wrong = Stubs(mtls.address, creds(pki, ca="rogue-ca"))
    assert rpc_error(list_jobs, wrong).code() == grpc.StatusCode.UNAVAILABLE
    wrong.close()


def test_python_client_speaks_tls_and_mtls(mtls, pki):
    with Client(mtls.address, "alice-token",
                root_certificates=pki.read("server-ca.crt")) as client:
        assert isinstance(client.list(limit=5), list)
    with Client(mtls.address, "alice-token",
                root_certificates=pki.read("server-ca.crt"),
                private_key=pki.read("worker-cert.key"),
                certificate_chain=pki.read("worker-cert.crt")) as client:
        assert isinstance(client.list(limit=5), list)
    with Client(mtls.address, "worker-token",
                root_certificates=pki.read("server-ca.crt")) as client:
        with pytest.raises(errors.AuthenticationError):
            client.list(limit=5)


def test_required_client_certificates_gate_the_handshake(tmp_path, pki,
                                                         token_file):
    server = Quantd(tmp_path / "q", [
        "--auth.token_file", str(token_file),
        "--tls.cert_file", str(pki.path("server.crt")),
        "--tls.key_file", str(pki.path("server.key")),
        "--tls.client_ca_file", str(pki.path("client-ca.crt")),
        "--tls.require_client_cert", "true"])
    try:
        anonymous = Stubs(server.address, creds(pki))
        assert rpc_error(list_jobs, anonymous).code() == grpc.StatusCode.UNAVAILABLE
        anonymous.close()
        with_cert = Stubs(server.address, creds(pki, cert="worker-cert"))
        list_jobs(with_cert)
        with_cert.close()
    finally:
        server.stop()


def test_sighup_rotates_the_certificate(tmp_path, pki, token_file):
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(pki.path("server.crt"), live / "tls.crt")
    shutil.copy(pki.path("server.key"), live / "tls.key")
    server = Quantd(tmp_path / "q", [
        "--auth.token_file", str(token_file),
        "--tls.cert_file", str(live / "tls.crt"),
        "--tls.key_file", str(live / "tls.key")])
    try:
        list_jobs(Stubs(server.address, creds(pki)))
        # Half a rotation (new certificate, old key) is refused on SIGHUP;
        # the old certificate keeps serving.
        shutil.copy(pki.path("server2.crt"), live / "tls.crt")
        server.hangup()
        _wait_for(server, "TLS certificate unchanged")
        time.sleep(1.5)
        list_jobs(Stubs(server.address, creds(pki)))
        # The full rotation is picked up after SIGHUP (within ~1 s).
        shutil.copy(pki.path("server2.key"), live / "tls.key")
        server.hangup()
        _wait_for(server, "reload: TLS certificate /CN=server2")
        deadline = time.monotonic() + 10
        while True:
            try:
                list_jobs(Stubs(server.address, creds(pki, ca="rotate-ca")))
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        old = Stubs(server.address, creds(pki))
        assert rpc_error(list_jobs, old).code() == grpc.StatusCode.UNAVAILABLE
    finally:
        assert server.stop() == 0


def _wait_for(server, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
