"""A worker killed with SIGKILL mid-job: the job's lease expires, the other
worker resumes it from the last checkpoint that reached the scheduler, and
the packed weights it produces are byte-identical to those of an
uninterrupted run of the same spec."""

from __future__ import annotations

import subprocess
import time

from e2e_harness import (binary, data_dir, engine_processes, resumed_after,
                         sha256_of, smollm2, spec_json, tiny_spec)
from quantd.v1 import types_pb2

PACKED = "packed/quantized.safetensors"


def _start_reference(tmp_path, spec: types_pb2.JobSpec) -> subprocess.Popen:
    """The same spec (as the scheduler normalised it, which is what the
    worker hands the engine) run uninterrupted by the engine itself, with
    the workers' thread count, alongside the job."""
    spec_path = tmp_path / "reference-spec.json"
    spec_path.write_text(spec_json(spec))
    return subprocess.Popen(
        [str(binary("QUANTD_ENGINE", "worker/engine/cli/quantd-engine")),
         "run", str(spec_path), "--out", str(tmp_path / "reference"),
         "--threads", "1", "--data-dir", str(data_dir())],
        stdout=(tmp_path / "reference-events.jsonl").open("w"),
        stderr=(tmp_path / "reference-stderr.log").open("w"))


STREAMS = "checkpoint/streams.safetensors"


def _wait_for_checkpoint(server, job_id: str, timeout: float) -> None:
    """Until a streams file, which commits a checkpoint, reached quantd (it
    follows the block files it names)."""
    deadline = time.monotonic() + timeout
    while not any(a.kind == "checkpoint" and a.name == STREAMS
                  for a in server.artifacts(job_id)):
        job = server.get(job_id)
        assert job.state not in (types_pb2.JOB_STATE_SUCCEEDED,
                                 types_pb2.JOB_STATE_FAILED), job
        assert time.monotonic() < deadline, "no checkpoint reached quantd"
        time.sleep(0.2)


def test_killed_worker_job_resumes_elsewhere_with_identical_weights(
        cluster, tmp_path):
    server, workers = cluster(workers=2, lease_timeout_seconds=8)
    spec = tiny_spec(smollm2(), "osplus", method_params={"search_tokens": 64})
    job = server.submit(spec)
    reference = _start_reference(tmp_path, job.spec)
    try:
        _check_resume(server, workers, job, reference, tmp_path)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()


def _check_resume(server, workers, job, reference, tmp_path) -> None:
    _wait_for_checkpoint(server, job.id, timeout=600)
    holder = server.get(job.id).worker_id
    victim = next(w for w in workers if w.worker_id == holder)
    survivor = next(w for w in workers if w.worker_id != holder)
    victim.kill()
    # The engine dies with its worker instead of working on for a lost
    # lease.
    deadline = time.monotonic() + 30
    while engine_processes(str(victim.work_dir)):
        assert time.monotonic() < deadline, "the killed worker's engine lives"
        time.sleep(0.2)

    done = server.wait_terminal(job.id, timeout=1500)
    assert done.state == types_pb2.JOB_STATE_SUCCEEDED, done.error.message
    assert done.attempt == 2
    assert f"job={job.id} leased attempt=1" in victim.log()
    assert f"job={job.id} leased attempt=2" in survivor.log()
    assert f"job={job.id} ended outcome=succeeded" in survivor.log()
    resumed = resumed_after(server.events(job.id))
    assert len(resumed) == 1 and resumed[0] >= 0, resumed

    assert reference.wait(timeout=600) == 0, (
        tmp_path / "reference-stderr.log").read_text()[-4000:]
    expected = (tmp_path / "reference" / PACKED).read_bytes()
    packed = [a for a in done.result.artifacts if a.name == PACKED]
    assert len(packed) == 1, [a.name for a in done.result.artifacts]
    assert packed[0].blob == "sha256:" + sha256_of(expected)
    assert server.download(job.id, PACKED) == expected
