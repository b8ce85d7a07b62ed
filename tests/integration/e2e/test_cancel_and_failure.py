"""Cancelling a job while the engine searches, and an engine that fails on
a bad model file: both seen through quantd and quantctl."""

from __future__ import annotations

import re
import time

from e2e_harness import engine_processes, quantctl, smollm2, tiny_spec
from quantd.v1 import types_pb2


def _state_reasons(server, job_id: str):
    return [e.state_change.reason for e in server.events(job_id)
            if e.HasField("state_change")]


def test_cancel_during_the_search_stops_the_engine_and_cleans_up(cluster):
    server, (worker,) = cluster(workers=1)
    spec = tiny_spec(smollm2(), "osplus", method_params={"search_tokens": 64})
    job = server.submit(spec)
    # The OS+ search runs block after block in the quantize stage.
    server.wait(job.id, lambda j: j.progress.stage == "quantize", 600,
                "quantizing")
    assert engine_processes(job.id), "the engine is not running"

    cancelled = quantctl(server.address, "cancel", job.id, "--reason", "e2e")
    assert cancelled.returncode == 0, cancelled.stderr
    done = server.wait_terminal(job.id, timeout=120)

    assert done.state == types_pb2.JOB_STATE_CANCELLED
    # The worker stopped the engine and reported it, within the grace
    # period: SIGTERM ended it (a SIGKILL would say signal 9), and the
    # scheduler did not have to force the cancel.
    ended = re.findall(rf"job={job.id} engine ended: (.*)", worker.log())
    assert ended in (["killed by signal 15 (Terminated)"],
                     ["exit status 143"]), ended
    assert any(r.startswith("cancelled by worker") for r in
               _state_reasons(server, job.id)), _state_reasons(server, job.id)
    assert engine_processes(job.id) == []
    assert not any(p.name.startswith(job.id) for p in
                   worker.work_dir.iterdir()), list(worker.work_dir.iterdir())


def test_an_engine_failing_on_a_bad_model_fails_the_job_with_its_message(
        cluster):
    server, (worker,) = cluster(workers=1)
    # A GGUF whose header and metadata are intact (quantd's submit-time
    # inspection passes) but whose tensor data is cut off.
    whole = smollm2().read_bytes()
    bad = server.dir / "truncated.gguf"
    bad.write_bytes(whole[:len(whole) // 2])
    job = server.submit(tiny_spec(bad))
    done = server.wait_terminal(job.id, timeout=300)

    assert done.state == types_pb2.JOB_STATE_FAILED
    assert done.error.code == 3  # INVALID_ARGUMENT, from the engine
    assert "truncated.gguf" in done.error.message, done.error.message
    assert "exit status 2" in done.error.message, done.error.message
    assert done.attempt == 1

    shown = quantctl(server.address, "get", job.id)
    assert shown.returncode == 0, shown.stderr
    assert "FAILED" in shown.stdout
    first_line = done.error.message.splitlines()[0]
    assert first_line[:60] in shown.stdout, shown.stdout
    assert engine_processes(job.id) == []
