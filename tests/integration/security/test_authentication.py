"""Bearer tokens: missing, wrong, expired and revoked tokens are refused
with UNAUTHENTICATED and one message that tells nothing apart; roles gate
every RPC (a worker token cannot use JobService, a tenant token cannot use
WorkerGateway); every refusal and every state change leaves an audit line;
SIGHUP reloads the token file."""

from __future__ import annotations

import time

import grpc
import pytest

from quantd.v1 import jobs_pb2, worker_pb2
from security_harness import (TOKENS, Quantd, Stubs, bearer, register_worker,
                              rpc_error, sha256_hex, spec_for, submit,
                              token_id, upload, write_tokens)

INVALID = "invalid or expired bearer token"


def test_missing_token_is_unauthenticated_and_audited(quantd, stubs):
    error = rpc_error(stubs.jobs.ListJobs, jobs_pb2.ListJobsRequest(), timeout=10)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "missing bearer token"
    line = quantd.wait_audit(lambda l: l.get("reason") == "missing_token")
    assert line["rpc"] == "JobService.ListJobs"
    assert line["outcome"] == "UNAUTHENTICATED"
    assert line["tenant"] == "" and line["token_id"] == ""
    assert line["peer"].startswith("ipv4:127.0.0.1:")


@pytest.mark.parametrize("token,reason", [
    ("not-a-token", "unknown_token"),
    ("expired-token", "expired_token"),
    ("revoked-token", "revoked_token"),
])
def test_bad_tokens_share_one_answer(quantd, stubs, token, reason):
    error = rpc_error(stubs.jobs.GetJob, jobs_pb2.GetJobRequest(id="j-x"),
                      metadata=bearer(token), timeout=10)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    # The same words whether the token is unknown, expired or revoked.
    assert error.details() == INVALID
    line = quantd.wait_audit(lambda l: l.get("token_id") == token_id(token)
                             and l.get("reason") == reason)
    assert line["outcome"] == "UNAUTHENTICATED"
    assert line["rpc"] == "JobService.GetJob"
    # The audit trail names the token by id, never by value or full hash.
    text = quantd.audit_path.read_text()
    assert token not in text and sha256_hex(token) not in text


@pytest.mark.parametrize("header", ["Basic YWxpY2U6", "Bearer", "Bearer a b"])
def test_malformed_authorization_is_unauthenticated(stubs, header):
    error = rpc_error(stubs.jobs.ListJobs, jobs_pb2.ListJobsRequest(),
                      metadata=(("authorization", header),), timeout=10)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == INVALID


def test_tenant_metadata_is_ignored_when_tokens_are_on(stubs, roots):
    job = stubs.jobs.SubmitJob(
        jobs_pb2.SubmitJobRequest(request_id="meta",
                                  spec=spec_for(f"file://{roots / 'models/tiny'}")),
        metadata=(*bearer("alice-token"), ("quantd-tenant", "beta")),
        timeout=30)
    assert job.tenant == "acme"


@pytest.mark.parametrize("call", ["SubmitJob", "GetJob", "ListJobs", "CancelJob",
                                  "ListArtifacts", "WatchJob"])
def test_worker_token_cannot_use_job_service(quantd, stubs, roots, call):
    requests = {
        "SubmitJob": jobs_pb2.SubmitJobRequest(
            request_id="w", spec=spec_for(f"file://{roots / 'models/tiny'}")),
        "GetJob": jobs_pb2.GetJobRequest(id="j-x"),
        "ListJobs": jobs_pb2.ListJobsRequest(),
        "CancelJob": jobs_pb2.CancelJobRequest(id="j-x"),
        "ListArtifacts": jobs_pb2.ListArtifactsRequest(job_id="j-x"),
        "WatchJob": jobs_pb2.WatchJobRequest(id="j-x"),
    }
    error = rpc_error(getattr(stubs.jobs, call), requests[call],
                      metadata=bearer("worker-token"), timeout=10)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == f"this token may not call JobService.{call}"
    line = quantd.wait_audit(lambda l: l["rpc"] == f"JobService.{call}"
                             and l.get("reason") == "role")
    assert line["tenant"] == "pool"
    assert line["token_id"] == token_id("worker-token")


def test_tenant_token_cannot_use_worker_gateway(quantd, stubs):
    error = rpc_error(register_worker, stubs, "alice-token", "sneaky")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = rpc_error(stubs.workers.Heartbeat,
                      worker_pb2.HeartbeatRequest(worker_id="sneaky"),
                      metadata=bearer("admin-token"), timeout=10)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    quantd.wait_audit(lambda l: l["rpc"] == "WorkerGateway.Heartbeat"
                      and l["tenant"] == "ops" and l.get("reason") == "role")


def test_read_only_token_cannot_submit(stubs, roots):
    error = rpc_error(submit, stubs, "acme-reader",
                      spec_for(f"file://{roots / 'models/tiny'}"), "ro")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = stubs.jobs.ListJobs(jobs_pb2.ListJobsRequest(),
                                 metadata=bearer("acme-reader"), timeout=10)
    assert all(job.tenant == "acme" for job in listed.jobs)


def test_state_changes_are_audited(quantd, stubs, roots):
    job = submit(stubs, "alice-token",
                 spec_for(f"file://{roots / 'models/tiny'}"), "audited")
    stubs.jobs.CancelJob(jobs_pb2.CancelJobRequest(id=job.id, reason="test"),
                         metadata=bearer("alice-token"), timeout=10)
    for rpc in ("JobService.SubmitJob", "JobService.CancelJob"):
        line = quantd.wait_audit(lambda l, rpc=rpc: l["rpc"] == rpc
                                 and l["job_id"] == job.id)
        assert line["outcome"] == "OK"
        assert line["tenant"] == "acme"
        assert line["token_id"] == token_id("alice-token")
    # Reads are not audited unless refused.
    stubs.jobs.GetJob(jobs_pb2.GetJobRequest(id=job.id),
                      metadata=bearer("alice-token"), timeout=10)
    time.sleep(0.2)
    assert not [l for l in quantd.audit()
                if l["rpc"] == "JobService.GetJob" and l["job_id"] == job.id]


def test_sighup_reloads_the_token_file(tmp_path, roots):
    tokens = dict(TOKENS)
    path = tmp_path / "tokens.json"
    write_tokens(path, tokens)
    server = Quantd(tmp_path / "q", ["--auth.token_file", str(path)])
    try:
        stubs = Stubs(server.address)
        ask = lambda token: stubs.jobs.ListJobs(  # noqa: E731
            jobs_pb2.ListJobsRequest(), metadata=bearer(token), timeout=10)
        ask("alice-token")
        assert rpc_error(ask, "carol-token").code() == grpc.StatusCode.UNAUTHENTICATED

        tokens["carol-token"] = ("gamma", ["read"], {})
        tokens["alice-token"] = ("acme", ["submit", "read"], {"revoked": True})
        write_tokens(path, tokens)
        server.hangup()
        deadline = time.monotonic() + 10
        while "reload: " not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        ask("carol-token")
        assert rpc_error(ask, "alice-token").code() == grpc.StatusCode.UNAUTHENTICATED

        # A broken file keeps the tokens in force.
        path.write_text("{not json")
        server.hangup()
        deadline = time.monotonic() + 10
        while "tokens unchanged" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "tokens unchanged" in server.log()
        ask("carol-token")
        stubs.close()
    finally:
        assert server.stop() == 0


def test_non_loopback_listener_needs_a_token_file(tmp_path):
    server = Quantd(tmp_path / "q", listen="0.0.0.0:0", wait=False)
    assert server.process.wait(timeout=30) != 0
    assert "auth.token_file" in server.log()
    assert "not loopback" in server.log()
    server.stop()


def test_loopback_without_tokens_says_so_loudly(tmp_path):
    server = Quantd(tmp_path / "q")
    try:
        deadline = time.monotonic() + 10
        while "AUTHENTICATION IS OFF" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "AUTHENTICATION IS OFF" in server.log()
    finally:
        server.stop()


def test_streams_are_guarded_before_reading(quantd, stubs):
    # Client streams are refused before a byte is read.
    error = rpc_error(upload, stubs, None, b"data")
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    error = rpc_error(upload, stubs, "worker-token", b"data")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = rpc_error(stubs.workers.ReportEvents, iter([
        worker_pb2.ReportEventsRequest(job_id="j-x", fencing_token=1)]),
        metadata=bearer("alice-token"), timeout=10)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = rpc_error(stubs.workers.UploadArtifact, iter([
        worker_pb2.UploadArtifactChunk(data=b"x")]),
        metadata=bearer("bob-token"), timeout=10)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    for rpc in ("JobService.UploadBlob", "WorkerGateway.ReportEvents",
                "WorkerGateway.UploadArtifact"):
        quantd.wait_audit(lambda l, rpc=rpc: l["rpc"] == rpc
                          and l["outcome"] in ("UNAUTHENTICATED",
                                               "PERMISSION_DENIED"))
