"""The asyncio client (quantd_client.aio) against a real quantd and a real
quantd-worker running the fake engine: many concurrent watches in one
event loop, the blocking client's behaviours, and retries on UNAVAILABLE."""

from __future__ import annotations

import asyncio
import time

import pytest

from conftest import free_port, start_quantd_at
from quantd_harness import model_path
from quantd_client import RejectedError, RetryPolicy, aio, make_spec
from quantd_client.v1 import types_pb2

WATCHES = 20


def fake_job(index: int, **labels: str) -> types_pb2.JobSpec:
    """A fake-engine job; `index` makes each spec (and request id) unique."""
    return make_spec(str(model_path()), "osplus", "w8a8", samples=4,
                     seq_len=64, labels={"suite": "aio", "n": str(index),
                                         "fake.blocks": "3", **labels})


async def watch_one(client: aio.Client, job_id: str, active: list,
                    peak: list) -> list:
    """The job's events; counts how many watches are open at once."""
    events = []
    async for event in client.watch(job_id):
        if not events:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        events.append(event)
    active[0] -= 1
    return events


def test_twenty_concurrent_watches_in_one_event_loop(quantd, agent):
    async def main():
        async with aio.Client(quantd.address) as client:
            jobs = await asyncio.gather(*(
                client.submit(fake_job(i, **{"fake.step_seconds": "0.2"}))
                for i in range(WATCHES)))
            active, peak = [0], [0]
            started = time.monotonic()
            streams = await asyncio.wait_for(asyncio.gather(*(
                watch_one(client, job.id, active, peak) for job in jobs)),
                timeout=240)
            finished = [await client.get(job.id) for job in jobs]
            return jobs, streams, finished, peak[0], time.monotonic() - started

    jobs, streams, finished, peak, seconds = asyncio.run(main())
    assert len({job.id for job in jobs}) == WATCHES
    assert peak == WATCHES, f"only {peak} watches were open at once"
    for job, events in zip(finished, streams):
        assert job.state == types_pb2.JOB_STATE_SUCCEEDED, job
        sequences = [event.sequence for event in events]
        assert sequences == list(range(1, len(events) + 1)), sequences
        assert events[-1].HasField("terminal")
        blocks = [e.progress.block_index for e in events
                  if e.HasField("progress") and e.progress.stage == "quantize"]
        assert blocks == [0, 1, 2], blocks
    print(f"{WATCHES} watches, {seconds:.1f} s")


def test_submit_fetch_cancel_and_idempotent_submit(quantd, agent, tmp_path):
    async def main():
        async with aio.Client(quantd.address) as client:
            spec = fake_job(100)
            first = await client.submit(spec)
            again = await client.submit(spec)
            assert again.id == first.id
            done = await client.wait(first.id)
            assert done.result.quantized_value == pytest.approx(11.25)
            paths = await client.fetch(first.id, tmp_path)
            names = {p.relative_to(tmp_path).as_posix() for p in paths}
            assert {"report.json", "model/model.safetensors"} <= names
            assert all(name.startswith("checkpoint/") for name in
                       names - {"report.json", "model/model.safetensors"})
            assert (tmp_path / "model/model.safetensors").read_bytes() == b"\x08" * 4096

            hung = await client.submit(fake_job(101, **{"fake.scenario": "hang"}))
            while (await client.get(hung.id)).state != types_pb2.JOB_STATE_RUNNING:
                await asyncio.sleep(0.05)
            await client.cancel(hung.id, reason="pytest")
            assert (await client.wait(hung.id)).state == types_pb2.JOB_STATE_CANCELLED
            with pytest.raises(RejectedError):
                await client.cancel(hung.id)
            listed = await client.list(labels={"suite": "aio", "n": "100"})
            assert [job.id for job in listed] == [first.id]

    asyncio.run(main())


def test_unary_calls_retry_until_quantd_is_up(tmp_path):
    """GetJob sent before quantd listens succeeds once it does."""
    port = free_port()
    policy = RetryPolicy(max_attempts=40, initial_backoff_seconds=0.1,
                         max_backoff_seconds=0.5)

    async def main():
        async with aio.Client(f"127.0.0.1:{port}", retry=policy,
                              timeout_seconds=10) as client:
            call = asyncio.create_task(client.list(limit=1))
            await asyncio.sleep(0.5)
            assert not call.done()
            server = await asyncio.to_thread(start_quantd_at, tmp_path, port)
            try:
                return await asyncio.wait_for(call, timeout=60)
            finally:
                server.stop()

    assert asyncio.run(main()) == []
