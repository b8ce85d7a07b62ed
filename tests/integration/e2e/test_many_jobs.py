"""Twenty small jobs submitted at once to two workers: every one finishes,
and every one runs exactly once."""

from __future__ import annotations

import re
from collections import Counter

from e2e_harness import minilm, tiny_spec
from quantd.v1 import types_pb2

JOBS = 20


def test_twenty_jobs_on_two_workers_all_finish_each_exactly_once(cluster):
    server, workers = cluster(workers=2)
    # RTN on the 6-block MiniLM: the real engine end to end in seconds.
    ids = [server.submit(tiny_spec(minilm(), "rtn",
                                   labels={"e2e": f"job-{i}"})).id
           for i in range(JOBS)]
    assert len(set(ids)) == JOBS

    jobs = [server.wait_terminal(job_id, timeout=900) for job_id in ids]
    for job in jobs:
        assert job.state == types_pb2.JOB_STATE_SUCCEEDED, (
            job.id, job.error.message)
        assert job.attempt == 1, job.id
        assert job.result.metric == "cosine"
        assert any(a.kind == "packed" for a in job.result.artifacts), job.id

    # Exactly once: one lease, one engine run and one RUNNING transition a
    # job, across both workers.
    logs = "\n".join(w.log() for w in workers)
    leased = Counter(re.findall(r"job=(\S+) leased attempt=", logs))
    started = Counter(re.findall(r"job=(\S+) engine starting", logs))
    assert leased == Counter(ids), leased
    assert started == Counter(ids), started
    for job_id in ids:
        running = [e for e in server.events(job_id)
                   if e.HasField("state_change") and
                   e.state_change.to == types_pb2.JOB_STATE_RUNNING]
        assert len(running) == 1, job_id
    # Both workers took a share.
    shares = [len(re.findall(r"leased attempt=", w.log())) for w in workers]
    assert all(share > 0 for share in shares), shares
