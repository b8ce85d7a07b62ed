"""The Python client (client/python/quantd_client) against a real quantd
with a fake worker, and against a scripted server for dropped streams."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading

import pytest

from conftest import free_port, start_quantd_at
from fake_job_service import JOB_ID, FakeJobService, FakeServer
from quantd_harness import REPO, model_path, wait_for_state
from quantd.v1 import types_pb2
from quantd_client import (Client, IntegrityError, InvalidArgumentError,
                           NotFoundError, RejectedError, RetryPolicy,
                           UnavailableError, make_spec, request_id_for,
                           state_name)

EXAMPLE = REPO / "client/python/examples/quantize_pipeline.py"


def small_job(**labels) -> dict:
    return dict(model=str(model_path()), method="osplus", scheme="w8a8",
                samples=4, seq_len=64, eval_seq_len=256, max_tokens=1024,
                labels=labels)


def test_submit_wait_and_fetch(quantd, worker, tmp_path):
    with Client(quantd.address) as client:
        job = client.submit(**small_job(fake="succeed", blocks="5"))
        assert job.id.startswith("j-") and state_name(job.state) == "QUEUED"
        seen = []
        done = client.wait(job.id, on_progress=seen.append)
        assert done.state == types_pb2.JOB_STATE_SUCCEEDED
        assert done.result.quantized_value == pytest.approx(20.5)
        quantize = [p for p in seen if p.stage == "quantize"]
        assert [p.block_index for p in quantize] == [0, 1, 2, 3, 4]
        assert [p.fraction for p in seen] == sorted(p.fraction for p in seen)

        paths = client.fetch(job.id, tmp_path)
        assert {p.relative_to(tmp_path).as_posix() for p in paths} == {
            "report.json", "model/model.safetensors"}
        for artifact in client.artifacts(job.id):
            data = (tmp_path / artifact.name).read_bytes()
            assert "sha256:" + hashlib.sha256(data).hexdigest() == artifact.blob

        model = tmp_path / "model/model.safetensors"
        whole = model.read_bytes()
        model.unlink()
        model.with_name("model.safetensors.part").write_bytes(whole[:123456])
        client.fetch(job.id, tmp_path, names=["model/model.safetensors"])
        assert model.read_bytes() == whole


def test_submit_accepts_a_spec_and_is_idempotent(quantd, worker):
    spec = make_spec(**small_job(fake="succeed"))
    with Client(quantd.address) as client:
        first = client.submit(spec, request_id="py-idem-1")
        second = client.submit(spec, request_id="py-idem-1")
        assert first.id == second.id
        estimate = client.submit(spec, validate_only=True)
        assert estimate.id == ""


def test_submit_is_idempotent_by_default(quantd, worker):
    spec = make_spec(**small_job(fake="succeed", suite="py-default-id"))
    with Client(quantd.address) as client:
        first = client.submit(spec)
        assert first.request_id == request_id_for(spec)
        assert client.submit(spec).id == first.id
        fresh = client.submit(spec, request_id="py-default-id-2")
        assert fresh.id != first.id
        client.wait(first.id)
        client.wait(fresh.id)


def test_cancel_a_running_job(quantd, worker):
    with Client(quantd.address) as client:
        job = client.submit(**small_job(fake="hang"))
        wait_for_state(quantd.address, job.id, {types_pb2.JOB_STATE_RUNNING})
        client.cancel(job.id, reason="pytest")
        done = client.wait(job.id)
        assert done.state == types_pb2.JOB_STATE_CANCELLED
        with pytest.raises(RejectedError):
            client.cancel(job.id)


def test_list_filters_and_failed_jobs(quantd, worker):
    with Client(quantd.address) as client:
        job = client.submit(**small_job(fake="fail", suite="py-list"))
        done = client.wait(job.id)
        assert done.state == types_pb2.JOB_STATE_FAILED
        assert done.error.message == "CUDA out of memory in block 3"
        listed = client.list(labels={"suite": "py-list"})
        assert [j.id for j in listed] == [job.id]
        assert client.list(labels={"suite": "py-list"},
                           states=[types_pb2.JOB_STATE_SUCCEEDED]) == []


def test_errors_map_to_exceptions(quantd, worker):
    with Client(quantd.address) as client:
        with pytest.raises(NotFoundError):
            client.get("j-00000000000000000000000000")
        with pytest.raises(InvalidArgumentError) as invalid:
            client.submit(model=str(model_path()), method="nope", scheme="w8a8")
        assert invalid.value.field == "method"
        # A recipe's stages and each stage's parameters, checked at submit.
        with pytest.raises(InvalidArgumentError) as invalid:
            client.submit(model=str(model_path()), method=["gptq", "osplus"],
                          scheme="w8a8")
        assert invalid.value.field == "method"
        assert "'gptq' rounds the weights" in invalid.value.message
        with pytest.raises(InvalidArgumentError) as invalid:
            client.submit(model=str(model_path()), method=["osplus", "gptq"],
                          scheme="w8a8", params={"gptq": {"block_size": 0}})
        assert invalid.value.field == "method_params.gptq.block_size"
        job = client.submit(**dict(small_job(fake="succeed"),
                                   method=["osplus", "gptq"],
                                   params={"gptq": {"act_order": True}}))
        assert job.spec.method == "osplus+gptq"
        # A target's fallbacks, checked at submit under their index.
        with pytest.raises(InvalidArgumentError) as invalid:
            client.submit(**dict(small_job(), target={
                "max_perplexity_increase": 0.02,
                "fallbacks": [{"method": "smoothquant"},
                              {"method": "gptq", "scheme": "w9a9"}]}))
        assert invalid.value.field == "target.fallbacks[1].scheme.preset"
        job = client.submit(**dict(small_job(fake="succeed"), target={
            "max_perplexity_increase": 0.02,
            "fallbacks": [{"method": "smoothquant"}]}))
        assert job.spec.target.fallbacks[0].method == "smoothquant"
    three_tries = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.05)
    with Client("127.0.0.1:1", timeout_seconds=5, retry=three_tries) as client:
        with pytest.raises(UnavailableError) as unreachable:
            client.get("j-x")
        assert "127.0.0.1:1" in unreachable.value.message
        assert unreachable.value.attempts == 3


def test_unary_calls_retry_until_quantd_is_up(tmp_path):
    """A call made while quantd is down succeeds once it listens."""
    port = free_port()
    policy = RetryPolicy(max_attempts=40, initial_backoff_seconds=0.1,
                         max_backoff_seconds=0.5)
    started = []
    later = threading.Timer(0.5, lambda: started.append(
        start_quantd_at(tmp_path, port)))
    with Client(f"127.0.0.1:{port}", retry=policy, timeout_seconds=10) as client:
        later.start()
        try:
            assert client.list(limit=1) == []
        finally:
            later.join()
            for server in started:
                server.stop()
    assert started, "quantd did not start"


def test_upload_returns_a_blob_usable_as_model(quantd, worker, tmp_path):
    with Client(quantd.address) as client:
        blob = client.upload(model_path(), kind="model")
        digest = hashlib.sha256(model_path().read_bytes()).hexdigest()
        assert blob == "sha256:" + digest
        job = client.submit(**{**small_job(fake="succeed"), "model": blob})
        assert job.spec.model.blob == blob


def test_wait_resumes_a_dropped_stream():
    server = FakeServer(FakeJobService(events=9, drop_every=4))
    try:
        with Client(server.address, backoff_seconds=0.01) as client:
            events = list(client.watch(JOB_ID))
            assert [e.sequence for e in events] == list(range(1, 11))
            assert events[-1].HasField("terminal")
            assert server.service.watch_requests == [0, 4, 8]
            assert client.wait(JOB_ID).state == types_pb2.JOB_STATE_SUCCEEDED
    finally:
        server.stop()


def test_fetch_detects_corruption(tmp_path):
    server = FakeServer(FakeJobService(data=os.urandom(200000), corrupt=True))
    try:
        with Client(server.address) as client, pytest.raises(IntegrityError):
            client.fetch(JOB_ID, tmp_path)
        assert not (tmp_path / "model/weights.bin.part").exists()
    finally:
        server.stop()


@pytest.mark.parametrize("limit,code", [("5%", 0), ("1%", 1), ("0.4", 1), ("0.6", 0)])
def test_pipeline_example_gates_on_perplexity(quantd, worker, tmp_path, limit, code):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--addr", quantd.address, "--model",
         str(model_path()), "--samples", "4", "--seq-len", "64",
         "--dest", str(tmp_path / "out"), "--max-ppl-increase", limit],
        capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == code, run.stdout + run.stderr
    assert "perplexity: FP 20.0000 -> quantized 20.5000" in run.stdout
    assert ("PASS" if code == 0 else "FAIL") in run.stdout
    assert (tmp_path / "out/model/model.safetensors").stat().st_size == 3 << 20
