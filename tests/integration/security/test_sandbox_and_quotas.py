"""Inputs stay inside the allowed roots (no "..", no symlink escape, per-
tenant roots keep tenants apart, and a path outside says nothing about
what exists there); sizes are bounded (uploads, strings, whole messages);
per-tenant quotas on queued jobs, running jobs and stored bytes refuse with
RESOURCE_EXHAUSTED naming the quota."""

from __future__ import annotations

import os

import grpc
import pytest

from quantd.v1 import jobs_pb2
from security_harness import (Quantd, Stubs, bearer, lease, make_model,
                              register_worker, rpc_error, spec_for, submit,
                              upload)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """shared/ (a root), tenants/{acme,beta}/ (per-tenant roots), outside/,
    and symlinks that try to leave."""
    base = tmp_path_factory.mktemp("tree").resolve()
    make_model(base / "shared")
    make_model(base / "tenants" / "acme", "mine")
    make_model(base / "tenants" / "beta", "theirs")
    make_model(base / "outside", "secret")
    os.symlink(base / "outside", base / "shared" / "escape")
    os.symlink(base / "tenants" / "beta", base / "tenants" / "acme" / "to-beta")
    return base


@pytest.fixture(scope="module")
def limited(tmp_path_factory, tree, token_file):
    server = Quantd(tmp_path_factory.mktemp("limited"), [
        "--auth.token_file", str(token_file),
        "--allowed-root", str(tree / "shared"),
        "--allowed-root", str(tree / "tenants" / "{tenant}"),
        "--limits.max_upload_bytes", "100000",
        "--limits.max_stored_bytes_per_tenant", "150000",
        "--limits.max_queued_per_tenant", "3",
        "--limits.max_running_per_tenant", "1",
        "--limits.max_message_bytes", str(4 << 20)])
    channel = Stubs(server.address)
    yield server, channel
    channel.close()
    server.stop()


def uri_error(stubs, path, token="alice-token"):
    return rpc_error(stubs.jobs.SubmitJob, jobs_pb2.SubmitJobRequest(
        request_id="x", spec=spec_for(f"file://{path}"), validate_only=True),
        metadata=bearer(token), timeout=10)


def validate(stubs, path, token="alice-token"):
    return stubs.jobs.SubmitJob(jobs_pb2.SubmitJobRequest(
        request_id="x", spec=spec_for(f"file://{path}"), validate_only=True),
        metadata=bearer(token), timeout=10)


def test_paths_inside_the_roots_are_accepted(limited, tree):
    _, stubs = limited
    validate(stubs, tree / "shared" / "tiny")
    validate(stubs, tree / "tenants" / "acme" / "mine")
    validate(stubs, tree / "tenants" / "beta" / "theirs", token="bob-token")


def test_dot_dot_is_refused(limited, tree):
    _, stubs = limited
    error = uri_error(stubs, f"{tree}/shared/../outside/secret")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == 'model.uri: must not contain ".."'


def test_symlink_escape_is_refused(limited, tree):
    _, stubs = limited
    error = uri_error(stubs, tree / "shared" / "escape" / "secret")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "model.uri: is outside the allowed roots"


def test_outside_paths_reveal_nothing(limited, tree):
    _, stubs = limited
    exists = uri_error(stubs, tree / "outside" / "secret")
    missing = uri_error(stubs, tree / "outside" / "nothing-here")
    etc = uri_error(stubs, "/etc/passwd")
    assert exists.details() == missing.details() == etc.details() == \
        "model.uri: is outside the allowed roots"


def test_tenant_roots_keep_tenants_apart(limited, tree):
    _, stubs = limited
    theirs = uri_error(stubs, tree / "tenants" / "beta" / "theirs")
    via_link = uri_error(stubs, tree / "tenants" / "acme" / "to-beta" / "theirs")
    for error in (theirs, via_link):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == "model.uri: is outside the allowed roots"


def test_upload_size_limit(limited):
    _, stubs = limited
    error = rpc_error(upload, stubs, "alice-token", b"z" * 100001)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit of 100000 bytes" in error.details()


def test_long_strings_and_huge_messages_are_refused(limited, tree):
    _, stubs = limited
    error = rpc_error(stubs.jobs.CancelJob, jobs_pb2.CancelJobRequest(
        id="j-x", reason="r" * 5000), metadata=bearer("alice-token"), timeout=10)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("reason: longer than 4096 bytes")
    spec = spec_for(f"file://{tree / 'shared' / 'tiny'}")
    spec.labels["k"] = "v" * 5000
    error = rpc_error(submit, stubs, "alice-token", spec, "long-label")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("spec.labels:")
    error = rpc_error(stubs.jobs.GetJob, jobs_pb2.GetJobRequest(id="j" * (5 << 20)),
                      metadata=bearer("alice-token"), timeout=10)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_stored_bytes_quota(limited):
    server, stubs = limited
    upload(stubs, "bob-token", b"a" * 90000)
    error = rpc_error(upload, stubs, "bob-token", b"b" * 90000)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "limits.max_stored_bytes_per_tenant" in error.details()
    assert "stores 90000 bytes" in error.details()
    # Other tenants have their own budget.
    upload(stubs, "alice-token", b"b" * 90000)
    server.wait_audit(lambda l: l["rpc"] == "JobService.UploadBlob"
                      and l["outcome"] == "RESOURCE_EXHAUSTED")


def test_queued_and_running_quotas(limited, tree):
    _, stubs = limited
    spec = spec_for(f"file://{tree / 'shared' / 'tiny'}")
    jobs = [submit(stubs, "alice-token", spec, f"q{i}") for i in range(3)]
    error = rpc_error(submit, stubs, "alice-token", spec, "q3")
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "queued jobs" in error.details()
    # One running job per tenant: the worker gets acme's first job, then
    # nothing of acme's while it runs, but beta's job.
    other = submit(stubs, "bob-token",
                   spec_for(f"file://{tree / 'tenants' / 'beta' / 'theirs'}"),
                   "b0")
    register_worker(stubs, "worker-token", "w-quota", max_jobs=4)
    first = lease(stubs, "worker-token", "w-quota")
    second = lease(stubs, "worker-token", "w-quota")
    third = lease(stubs, "worker-token", "w-quota")
    assert first.job.id == jobs[0].id
    assert second.job.id == other.id
    assert third is None
