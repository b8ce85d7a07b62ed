"""JobService and WorkerGateway semantics against a real quantd, from Python."""

import threading

import grpc
import pytest

from quantd.v1 import jobs_pb2, types_pb2, worker_pb2


def tiny_spec(model_root, **overrides):
    spec = types_pb2.JobSpec(method="rtn", **overrides)
    spec.model.uri = f"file://{model_root / 'tiny'}"
    spec.scheme.preset = "w8a8"
    spec.calibration.n_samples = 4
    spec.calibration.seq_len = 64
    return spec


def submit(quantd, model_root, request_id, metadata=None, **overrides):
    return quantd.jobs.SubmitJob(
        jobs_pb2.SubmitJobRequest(request_id=request_id,
                                  spec=tiny_spec(model_root, **overrides)),
        metadata=metadata, timeout=30)


def register(quantd, worker_id, max_jobs=1):
    quantd.workers.RegisterWorker(worker_pb2.RegisterWorkerRequest(
        worker_id=worker_id,
        capabilities=worker_pb2.WorkerCapabilities(
            devices=[worker_pb2.Device(name="cuda:0", memory_bytes=80 << 30)],
            host_memory_bytes=256 << 30, max_concurrent_jobs=max_jobs)),
        timeout=30)


def lease(quantd, worker_id, wait=5.0):
    response = quantd.workers.LeaseJob(
        worker_pb2.LeaseJobRequest(worker_id=worker_id, wait_seconds=wait),
        timeout=wait + 30)
    return response.lease if response.HasField("lease") else None


def test_submit_get_and_idempotency(quantd, model_root):
    job = submit(quantd, model_root, "key-1")
    assert job.id.startswith("j-") and len(job.id) == 28
    assert job.state == types_pb2.JOB_STATE_QUEUED
    assert job.estimate.device_memory_bytes > 0
    again = submit(quantd, model_root, "key-1", priority=7)
    assert again.id == job.id and again.spec.priority == 0
    got = quantd.jobs.GetJob(jobs_pb2.GetJobRequest(id=job.id), timeout=30)
    # Stored as submitted: the engine expands the preset.
    assert got.spec.scheme == job.spec.scheme
    assert got.spec.scheme.preset and not got.spec.scheme.HasField("weights")


@pytest.mark.parametrize("edit,field", [
    (lambda s: setattr(s, "method", "magic"), "method"),
    (lambda s: s.scheme.weights.__setattr__("bits", 1), "scheme.weights.bits"),
    (lambda s: s.calibration.__setattr__("seq_len", 3), "calibration.seq_len"),
    (lambda s: s.model.__setattr__("uri", "file:///etc"), "model.uri"),
    (lambda s: s.model.__setattr__("blob", "sha256:xyz"), "model.blob"),
])
def test_invalid_spec_names_the_field(quantd, model_root, edit, field):
    spec = tiny_spec(model_root)
    edit(spec)
    with pytest.raises(grpc.RpcError) as error:
        quantd.jobs.SubmitJob(
            jobs_pb2.SubmitJobRequest(request_id="bad", spec=spec), timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(field + ": ")
    trailers = dict(error.value.trailing_metadata())
    info = types_pb2.ErrorInfo.FromString(trailers["quantd-error-bin"])
    assert info.field == field
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


def test_unknown_job_is_not_found_and_tenants_are_isolated(quantd, model_root):
    with pytest.raises(grpc.RpcError) as error:
        quantd.jobs.GetJob(jobs_pb2.GetJobRequest(id="j-unknown"), timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    job = submit(quantd, model_root, "mine", metadata=[("quantd-tenant", "acme")])
    assert job.tenant == "acme"
    with pytest.raises(grpc.RpcError) as error:
        quantd.jobs.GetJob(jobs_pb2.GetJobRequest(id=job.id), timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    listed = quantd.jobs.ListJobs(jobs_pb2.ListJobsRequest(), timeout=30,
                                  metadata=[("quantd-tenant", "acme")])
    assert [j.id for j in listed.jobs] == [job.id]


def test_list_pages_cover_every_job_once(quantd, model_root):
    ids = [submit(quantd, model_root, f"r{i}").id for i in range(23)]
    seen, token = [], ""
    while True:
        page = quantd.jobs.ListJobs(jobs_pb2.ListJobsRequest(
            page_size=5, page_token=token, order_by="create_time asc"), timeout=30)
        seen += [job.id for job in page.jobs]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


def test_full_lifecycle_with_watch_resume(quantd, model_root):
    register(quantd, "w1")
    job = submit(quantd, model_root, "life")
    held = lease(quantd, "w1")
    assert held is not None and held.job.id == job.id and held.fencing_token == 1

    def report(*events):
        return quantd.workers.ReportEvents(iter([worker_pb2.ReportEventsRequest(
            job_id=job.id, fencing_token=held.fencing_token, events=list(events))]),
            timeout=30)

    report(types_pb2.JobEvent(state_change=types_pb2.StateChange(
        to=types_pb2.JOB_STATE_RUNNING)))
    for i in range(10):
        report(types_pb2.JobEvent(progress=types_pb2.Progress(
            stage="quantize", block_index=i, block_count=10, fraction=(i + 1) / 10)))

    first = []
    stream = quantd.jobs.WatchJob(jobs_pb2.WatchJobRequest(id=job.id), timeout=30)
    for event in stream:
        first.append(event)
        if len(first) == 5:
            stream.cancel()
            break

    def finish():
        report(types_pb2.JobEvent(log=types_pb2.LogLine(level="info", message="done")))
        quantd.workers.CompleteJob(worker_pb2.CompleteJobRequest(
            job_id=job.id, fencing_token=held.fencing_token,
            state=types_pb2.JOB_STATE_SUCCEEDED,
            result=types_pb2.JobResult(metric="perplexity", fp_value=9.0,
                                       quantized_value=9.4)), timeout=30)

    finisher = threading.Thread(target=finish)
    finisher.start()
    rest = list(quantd.jobs.WatchJob(jobs_pb2.WatchJobRequest(
        id=job.id, after_sequence=first[-1].sequence), timeout=30))
    finisher.join()
    sequences = [e.sequence for e in first + rest]
    assert sequences == list(range(1, len(sequences) + 1))
    assert rest[-1].HasField("terminal")
    assert rest[-1].terminal.result.quantized_value == pytest.approx(9.4)
    final = quantd.jobs.GetJob(jobs_pb2.GetJobRequest(id=job.id), timeout=30)
    assert final.state == types_pb2.JOB_STATE_SUCCEEDED
    assert final.progress.fraction == pytest.approx(1.0)


def test_cancel_terminal_job_is_failed_precondition(quantd, model_root):
    job = submit(quantd, model_root, "c")
    cancelled = quantd.jobs.CancelJob(jobs_pb2.CancelJobRequest(id=job.id), timeout=30)
    assert cancelled.state == types_pb2.JOB_STATE_CANCELLED
    assert cancelled.error.code == grpc.StatusCode.CANCELLED.value[0]
    with pytest.raises(grpc.RpcError) as error:
        quantd.jobs.CancelJob(jobs_pb2.CancelJobRequest(id=job.id), timeout=30)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_long_poll_returns_empty_after_wait(quantd):
    register(quantd, "idle")
    assert lease(quantd, "idle", wait=0.2) is None
    with pytest.raises(grpc.RpcError) as error:
        lease(quantd, "unregistered", wait=0)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
