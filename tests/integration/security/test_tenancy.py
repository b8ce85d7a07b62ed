"""Tenants: a tenant never sees, cancels or downloads another tenant's jobs
and artifacts, and cannot tell them from jobs that do not exist (the same
PERMISSION_DENIED either way); an admin token sees every tenant; raw blob
downloads are for workers; a blob hash learnt elsewhere is useless (jobs
may name only the tenant's own blobs, and an upload must carry the bytes
that hash to the declared digest)."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from quantd.v1 import jobs_pb2, types_pb2, worker_pb2
from security_harness import (bearer, lease, register_worker, rpc_error,
                              spec_for, submit, upload)


@pytest.fixture(scope="module")
def finished_job(stubs, roots):
    """An acme job run to SUCCEEDED by a worker, with one artifact."""
    job = submit(stubs, "alice-token",
                 spec_for(f"file://{roots / 'models/tiny'}"), "finished")
    register_worker(stubs, "worker-token", "w-tenancy")
    held = lease(stubs, "worker-token", "w-tenancy")
    assert held is not None and held.job.id == job.id
    data = b"quantized weights"
    blob = "sha256:" + hashlib.sha256(data).hexdigest()

    def chunks():
        yield worker_pb2.UploadArtifactChunk(header=worker_pb2.UploadArtifactHeader(
            job_id=job.id, fencing_token=held.fencing_token,
            artifact=types_pb2.Artifact(name="model.bin", kind="model",
                                        blob=blob, size_bytes=len(data))))
        yield worker_pb2.UploadArtifactChunk(data=data)

    stubs.workers.UploadArtifact(chunks(), metadata=bearer("worker-token"),
                                 timeout=30)
    stubs.workers.ReportEvents(iter([worker_pb2.ReportEventsRequest(
        job_id=job.id, fencing_token=held.fencing_token,
        events=[types_pb2.JobEvent(state_change=types_pb2.StateChange(
            to=types_pb2.JOB_STATE_RUNNING))])]),
        metadata=bearer("worker-token"), timeout=30)
    stubs.workers.CompleteJob(worker_pb2.CompleteJobRequest(
        job_id=job.id, fencing_token=held.fencing_token,
        state=types_pb2.JOB_STATE_SUCCEEDED),
        metadata=bearer("worker-token"), timeout=30)
    return job.id, blob, data


def _calls(job_id):
    return {
        "GetJob": lambda s, t: s.jobs.GetJob(
            jobs_pb2.GetJobRequest(id=job_id), metadata=bearer(t), timeout=10),
        "CancelJob": lambda s, t: s.jobs.CancelJob(
            jobs_pb2.CancelJobRequest(id=job_id), metadata=bearer(t), timeout=10),
        "ListArtifacts": lambda s, t: s.jobs.ListArtifacts(
            jobs_pb2.ListArtifactsRequest(job_id=job_id), metadata=bearer(t),
            timeout=10),
        "WatchJob": lambda s, t: list(s.jobs.WatchJob(
            jobs_pb2.WatchJobRequest(id=job_id), metadata=bearer(t), timeout=10)),
        "DownloadArtifact": lambda s, t: list(s.jobs.DownloadArtifact(
            jobs_pb2.DownloadArtifactRequest(job_id=job_id, name="model.bin"),
            metadata=bearer(t), timeout=10)),
    }


@pytest.mark.parametrize("call", ["GetJob", "CancelJob", "ListArtifacts",
                                  "WatchJob", "DownloadArtifact"])
def test_other_tenants_jobs_look_like_missing_ones(quantd, stubs, finished_job,
                                                   call):
    job_id, _, _ = finished_job
    foreign = rpc_error(_calls(job_id)[call], stubs, "bob-token")
    missing = rpc_error(_calls("j-01ZZZZZZZZZZZZZZZZZZZZZZZZ")[call], stubs,
                        "bob-token")
    assert foreign.code() == grpc.StatusCode.PERMISSION_DENIED
    assert missing.code() == grpc.StatusCode.PERMISSION_DENIED
    assert foreign.details() == f"job {job_id} is not accessible"
    assert missing.details() == "job j-01ZZZZZZZZZZZZZZZZZZZZZZZZ is not accessible"
    # Nothing of the job (tenant, state, artifact names) leaks.
    for text in (foreign.details(), str(foreign.trailing_metadata())):
        assert "acme" not in text and "model.bin" not in text
    line = quantd.wait_audit(lambda l: l["rpc"] == f"JobService.{call}"
                             and l["job_id"] == job_id
                             and l.get("reason") == "not_visible")
    assert line["tenant"] == "beta" and line["outcome"] == "PERMISSION_DENIED"


def test_owner_and_admin_see_the_job(stubs, finished_job):
    job_id, blob, data = finished_job
    for token in ("alice-token", "acme-reader", "admin-token"):
        job = stubs.jobs.GetJob(jobs_pb2.GetJobRequest(id=job_id),
                                metadata=bearer(token), timeout=10)
        assert job.state == types_pb2.JOB_STATE_SUCCEEDED
    chunks = list(stubs.jobs.DownloadArtifact(
        jobs_pb2.DownloadArtifactRequest(job_id=job_id, name="model.bin"),
        metadata=bearer("alice-token"), timeout=10))
    assert b"".join(c.data for c in chunks) == data
    assert chunks[0].blob == blob


def test_listing_is_scoped_to_the_tenant(quantd, stubs, finished_job):
    job_id, _, _ = finished_job
    mine = stubs.jobs.ListJobs(jobs_pb2.ListJobsRequest(),
                               metadata=bearer("bob-token"), timeout=10)
    assert job_id not in [j.id for j in mine.jobs]
    error = rpc_error(stubs.jobs.ListJobs, jobs_pb2.ListJobsRequest(tenant="acme"),
                      metadata=bearer("bob-token"), timeout=10)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    quantd.wait_audit(lambda l: l["rpc"] == "JobService.ListJobs"
                      and l["tenant"] == "beta"
                      and l["outcome"] == "PERMISSION_DENIED")
    admin = stubs.jobs.ListJobs(jobs_pb2.ListJobsRequest(tenant="acme"),
                                metadata=bearer("admin-token"), timeout=10)
    assert job_id in [j.id for j in admin.jobs]


def test_worker_lists_without_other_tenants_job_ids(stubs, roots):
    job = submit(stubs, "alice-token",
                 spec_for(f"file://{roots / 'models/tiny'}"), "held")
    register_worker(stubs, "worker-token", "w-list")
    held = lease(stubs, "worker-token", "w-list")
    assert held is not None and held.job.id == job.id
    request = jobs_pb2.ListWorkersRequest()
    as_bob = stubs.jobs.ListWorkers(request, metadata=bearer("bob-token"),
                                    timeout=10)
    as_admin = stubs.jobs.ListWorkers(request, metadata=bearer("admin-token"),
                                      timeout=10)
    bob_view = {w.worker_id: list(w.job_ids) for w in as_bob.workers}
    admin_view = {w.worker_id: list(w.job_ids) for w in as_admin.workers}
    assert bob_view["w-list"] == []
    assert job.id in admin_view["w-list"]


def test_raw_blob_downloads_are_for_workers(quantd, stubs, finished_job):
    _, blob, data = finished_job
    request = jobs_pb2.DownloadArtifactRequest(blob=blob)
    for token in ("alice-token", "bob-token"):
        error = rpc_error(lambda: list(stubs.jobs.DownloadArtifact(
            request, metadata=bearer(token), timeout=10)))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    chunks = list(stubs.jobs.DownloadArtifact(
        request, metadata=bearer("worker-token"), timeout=10))
    assert b"".join(c.data for c in chunks) == data


def test_a_known_hash_does_not_open_another_tenants_blob(quantd, stubs):
    data = b"acme's private model " * 64
    blob = upload(stubs, "alice-token", data).blob
    spec = spec_for(blob=blob)
    assert submit(stubs, "alice-token", spec, "own-blob").tenant == "acme"
    # Bob names alice's blob: exactly the answer for a blob never stored.
    stolen = rpc_error(submit, stubs, "bob-token", spec, "stolen")
    never = rpc_error(submit, stubs, "bob-token",
                      spec_for(blob="sha256:" + "0" * 64), "never")
    assert stolen.code() == never.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert stolen.details() == never.details()
    assert stolen.details().startswith("model.blob: no such blob")
    # Claiming it by hash and size with other bytes fails like any
    # corrupt upload, and leaves bob without the blob.
    forged = rpc_error(upload, stubs, "bob-token", b"x" * len(data), declared=blob)
    fresh = rpc_error(upload, stubs, "bob-token", b"y" * 10,
                      declared="sha256:" + "1" * 64)
    assert forged.code() == fresh.code() == grpc.StatusCode.DATA_LOSS
    assert rpc_error(submit, stubs, "bob-token", spec, "stolen2").code() == \
        grpc.StatusCode.INVALID_ARGUMENT
    # With the real bytes bob proves possession and may use it.
    assert upload(stubs, "bob-token", data).already_present
    assert submit(stubs, "bob-token", spec, "owned").tenant == "beta"
    line = quantd.wait_audit(lambda l: l["rpc"] == "JobService.UploadBlob"
                             and l["tenant"] == "beta"
                             and l["outcome"] == "DATA_LOSS")
    assert line["detail"] == blob
