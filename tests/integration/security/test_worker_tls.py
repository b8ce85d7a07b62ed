"""quantd-worker over TLS, end to end: a real worker (fake engine) runs a job
for a tenant through quantd serving TLS, and through quantd requiring client
certificates (mutual TLS). A worker without a certificate, with one from
another CA, with the wrong server name or in plaintext fails with a log line
that names quantd's address and the transport; bad TLS settings stop it at
start with exit code 2 naming the key."""

from __future__ import annotations

import grpc
import pytest

from quantd.v1 import types_pb2
from security_harness import (Quantd, Stubs, Worker, spec_for, submit,
                              wait_for_state)

DONE = (types_pb2.JOB_STATE_SUCCEEDED, types_pb2.JOB_STATE_FAILED,
        types_pb2.JOB_STATE_CANCELLED)


def tls_flags(pki, client_ca=False, require=False):
    flags = ["--tls.cert_file", str(pki.path("server.crt")),
             "--tls.key_file", str(pki.path("server.key"))]
    if client_ca:
        flags += ["--tls.client_ca_file", str(pki.path("client-ca.crt"))]
    if require:
        flags += ["--tls.require_client_cert", "true"]
    return flags


def worker_flags(pki, cert=None, ca="server-ca"):
    flags = ["--token=worker-token", f"--tls.ca={pki.path(ca + '.crt')}"]
    if cert:
        flags += [f"--tls.cert={pki.path(cert + '.crt')}",
                  f"--tls.key={pki.path(cert + '.key')}"]
    return flags


def tenant_stubs(server, pki):
    return Stubs(server.address, grpc.ssl_channel_credentials(
        root_certificates=pki.read("server-ca.crt"),
        private_key=pki.read("worker-cert.key"),
        certificate_chain=pki.read("worker-cert.crt")))


def run_job(server, pki, roots, request_id):
    stubs = tenant_stubs(server, pki)
    try:
        job = submit(stubs, "alice-token",
                     spec_for(f"file://{roots / 'models/tiny'}"), request_id)
        return wait_for_state(stubs, "alice-token", job.id, DONE)
    finally:
        stubs.close()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, pki, token_file, roots):
    """TLS without client certificates."""
    server = Quantd(tmp_path_factory.mktemp("tls"), [
        "--auth.token_file", str(token_file),
        "--allowed-root", str(roots / "models"), *tls_flags(pki)])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory, pki, token_file, roots):
    """Mutual TLS: every handshake needs a certificate from client-ca."""
    server = Quantd(tmp_path_factory.mktemp("mtls-required"), [
        "--auth.token_file", str(token_file),
        "--allowed-root", str(roots / "models"),
        *tls_flags(pki, client_ca=True, require=True)])
    yield server
    server.stop()


def test_worker_runs_a_job_over_tls(tls_server, pki, roots, tmp_path):
    # quantd's certificate names 127.0.0.1 and localhost: dialling the IP
    # while checking the name "localhost" exercises tls.server_name.
    worker = Worker(tmp_path, tls_server.address,
                    worker_flags(pki) + ["--tls.server_name=localhost"])
    try:
        line = worker.wait_log("scheduler: ")
        assert f"quantd at {tls_server.address} over TLS" in line
        assert "server name localhost" in line
        worker.wait_log("registered worker=sec-worker")
        job = run_job(tls_server, pki, roots, "tls-job")
        assert job.state == types_pb2.JOB_STATE_SUCCEEDED, job
        assert job.result.quantized_value == pytest.approx(11.25)
    finally:
        assert worker.stop() == 0, worker.log()


def test_worker_runs_a_job_over_mutual_tls(mtls_server, pki, roots, tmp_path):
    worker = Worker(tmp_path, mtls_server.address,
                    worker_flags(pki, cert="worker-cert"))
    try:
        worker.wait_log("registered worker=sec-worker")
        job = run_job(mtls_server, pki, roots, "mtls-job")
        assert job.state == types_pb2.JOB_STATE_SUCCEEDED, job
    finally:
        assert worker.stop() == 0, worker.log()


@pytest.mark.parametrize("cert", [None, "rogue-cert"])
def test_worker_without_a_trusted_certificate_fails_the_handshake(
        mtls_server, pki, tmp_path, cert):
    worker = Worker(tmp_path, mtls_server.address,
                    worker_flags(pki, cert=cert), worker_id="w-untrusted")
    try:
        line = worker.wait_log("RegisterWorker with quantd at")
        assert f"quantd at {mtls_server.address} over TLS" in line
        assert ("no client certificate" if cert is None
                else f"client certificate {pki.path(cert + '.crt')}") in line
        assert "retrying: UNAVAILABLE" in line
        assert "registered" not in worker.log()
    finally:
        worker.stop()


def test_worker_without_a_certificate_is_refused_by_the_worker_check(
        pki, token_file, roots, tmp_path):
    # Client CA without require_client_cert: the handshake succeeds and
    # RegisterWorker itself refuses, for good (exit code 1).
    server = Quantd(tmp_path / "q", [
        "--auth.token_file", str(token_file),
        "--allowed-root", str(roots / "models"),
        *tls_flags(pki, client_ca=True)])
    worker = Worker(tmp_path / "w", server.address, worker_flags(pki))
    try:
        assert worker.wait_exit() == 1, worker.log()
        line = worker.wait_log("RegisterWorker with quantd at")
        assert f"quantd at {server.address} over TLS" in line
        assert "UNAUTHENTICATED" in line and "client certificate" in line
    finally:
        worker.stop()
        server.stop()


def test_wrong_server_name_fails_the_handshake(tls_server, pki, tmp_path):
    worker = Worker(tmp_path, tls_server.address,
                    worker_flags(pki) + ["--tls.server_name=quantd.invalid"])
    try:
        line = worker.wait_log("RegisterWorker with quantd at")
        assert "over TLS" in line and "server name quantd.invalid" in line
        assert "UNAVAILABLE" in line
    finally:
        worker.stop()


def test_plaintext_worker_against_tls_says_plaintext(tls_server, tmp_path):
    worker = Worker(tmp_path, tls_server.address, ["--token=worker-token"])
    try:
        line = worker.wait_log("RegisterWorker with quantd at")
        assert f"quantd at {tls_server.address} in plaintext" in line
        assert "UNAVAILABLE" in line
    finally:
        worker.stop()


@pytest.mark.parametrize("flags, key, reason", [
    (["--tls.ca=/nonexistent/ca.crt"], "tls.ca",
     "cannot read /nonexistent/ca.crt"),
    (["--tls.cert=/etc/hostname"], "tls.key", "needs both"),
    (["--tls.enabled=true", "--tls.server_name=bad name"], "tls.server_name",
     "is not a host name"),
])
def test_bad_tls_settings_stop_the_worker_at_start(tmp_path, flags, key,
                                                   reason):
    worker = Worker(tmp_path, "127.0.0.1:1", flags)
    try:
        assert worker.wait_exit() == 2, worker.log()
        assert key in worker.log() and reason in worker.log()
    finally:
        worker.stop()


def test_a_file_without_a_certificate_is_named(pki, tmp_path):
    worker = Worker(tmp_path, "127.0.0.1:1",
                    [f"--tls.ca={pki.path('server.key')}"])
    try:
        assert worker.wait_exit() == 2, worker.log()
        assert "tls.ca" in worker.log()
        assert f"{pki.path('server.key')} holds no PEM certificate" in worker.log()
    finally:
        worker.stop()
