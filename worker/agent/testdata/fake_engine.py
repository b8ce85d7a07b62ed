#!/usr/bin/env python3
"""A stand-in for quantd-engine in the worker's tests.

It speaks the engine protocol (docs/formats/engine-protocol.md): `probe`
prints capabilities, `run SPEC --out DIR --events-fd N` emits JSON-lines
events. What a run does is chosen by the spec's label "fake.scenario" (or
--scenario, which wins):

  succeed     state, progress per block with a checkpoint after each (the
              block's file, then the streams file), log, two artifacts,
              result; exit 0
  fail        error INTERNAL; exit 3
  invalid     error INVALID_ARGUMENT on scheme.weights.bits; exit 2
  oom         error RESOURCE_EXHAUSTED; exit 4
  crash       a line on stderr, then dies of SIGSEGV
  no_result   exits 0 without a result event
  hang        state running, then sleeps until SIGTERM (exits 143)
  stubborn    ignores SIGTERM, starts a grandchild `sleep` in its process
              group, sleeps forever
  flood       thousands of progress events as fast as it can, then succeeds
  garbage     malformed lines between valid events, then succeeds

Labels "fake.blocks" (default 3) and "fake.step_seconds" (default 0.02)
shape the run. A run that finds DIR/checkpoint/streams.safetensors logs its
sha256 and the block files beside it ("resume sha256=... blocks=...").
"""
import argparse
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time


STREAMS = "checkpoint/streams.safetensors"


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest(), len(data)


class Events:
    def __init__(self, fd):
        self.out = os.fdopen(fd, "w", buffering=1, closefd=False)

    def emit(self, **event):
        self.out.write(json.dumps(event) + "\n")

    def raw(self, text):
        self.out.write(text + "\n")


def probe():
    print(json.dumps({
        "engine_version": "fake-0.1",
        "torch_version": "none",
        "host_memory_bytes": 8 << 30,
        "devices": [{"name": "cpu", "model": "fake", "memory_bytes": 8 << 30}],
        "methods": ["rtn", "osplus"],
    }))


def checkpoint(events, out, block):
    """Block `block`'s file, then the streams file that commits it."""
    parts = [("block", f"checkpoint/block-{block:05d}.safetensors",
              f"block {block}"),
             ("streams", STREAMS, f"streams after block {block}")]
    for part, name, data in parts:
        path = os.path.join(out, name)
        sha, size = write_file(path, data.encode())
        events.emit(type="checkpoint", part=part, block_index=block,
                    name=name, path=path, sha256=sha, size_bytes=size)


def artifact(events, out, name, kind, data):
    path = os.path.join(out, name)
    sha, size = write_file(path, data)
    events.emit(type="artifact", name=name, path=path, kind=kind, sha256=sha,
                size_bytes=size)


def blocks(events, out, count, step_seconds):
    for i in range(count):
        time.sleep(step_seconds)
        events.emit(type="progress", stage="quantize", block_index=i,
                    block_count=count, fraction=(i + 1) / (count + 1),
                    eta_seconds=-1,
                    layers=[{"name": f"blocks.{i}.qkv", "loss_before": 2.0,
                             "loss_after": 1.0, "threshold": 0.5,
                             "scale_min": 0.1, "scale_max": 4.0,
                             "scale_mean": 1.0}])
        checkpoint(events, out, i)


def succeed(events, out, spec):
    artifact(events, out, "report.json", "report",
             json.dumps({"method": spec.get("method", "")}).encode())
    artifact(events, out, "model/model.safetensors", "model", b"\x08" * 4096)
    events.emit(type="progress", stage="evaluate", fraction=1.0,
                eta_seconds=0)
    events.emit(type="result", metric="perplexity", fp_value=10.5,
                quantized_value=11.25, eval_tokens=4096, eval_seq_len=512,
                wall_seconds=1.5, peak_host_memory_bytes=1 << 20,
                peak_device_memory_bytes=0)
    return 0


def fail(events, code, message, field, status):
    print(f"fake engine: {message}", file=sys.stderr, flush=True)
    events.emit(type="error", code=code, message=message, field=field)
    return status


def sleep_forever():
    while True:
        time.sleep(3600)


def run(args):
    with open(args.spec) as f:
        spec = json.load(f)
    labels = spec.get("labels", {})
    scenario = args.scenario or labels.get("fake.scenario", "succeed")
    count = int(labels.get("fake.blocks", "3"))
    step = float(labels.get("fake.step_seconds", "0.02"))
    events = Events(args.events_fd)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    print(f"fake engine: scenario={scenario}", file=sys.stderr, flush=True)
    events.emit(type="state", state="running")
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    model = spec.get("model", {}).get("uri", "")
    events.emit(type="log", level="info",
                message=f"scenario={scenario} nofile={nofile} "
                        f"pid={os.getpid()} model={model}")
    resume = os.path.join(args.out, STREAMS)
    if os.path.exists(resume):
        with open(resume, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        found = sorted(name for name in
                       os.listdir(os.path.join(args.out, "checkpoint"))
                       if name.startswith("block-"))
        events.emit(type="log", level="info",
                    message=f"resume sha256={digest} "
                            f"blocks={','.join(found)}")
    return SCENARIOS[scenario](events, args.out, spec, count, step)


def scenario_succeed(events, out, spec, count, step):
    blocks(events, out, count, step)
    return succeed(events, out, spec)


def scenario_crash(events, out, spec, count, step):
    blocks(events, out, 1, step)
    print("fake engine: about to crash", file=sys.stderr, flush=True)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGSEGV, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGSEGV)
    return 1


def scenario_hang(events, out, spec, count, step):
    blocks(events, out, 1, step)
    sleep_forever()


def scenario_stubborn(events, out, spec, count, step):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(["sleep", "1000"])
    events.emit(type="log", level="warn", message=f"grandchild={child.pid}")
    sleep_forever()


def scenario_flood(events, out, spec, count, step):
    for i in range(5000):
        events.emit(type="progress", stage="calibrate", block_index=0,
                    block_count=1, fraction=i / 10000.0, eta_seconds=-1)
    return succeed(events, out, spec)


def scenario_garbage(events, out, spec, count, step):
    events.raw("this is not json")
    events.raw('{"type": "progress", "block_index": -4}')
    events.raw('["an", "array"]')
    events.emit(type="from_the_future", payload=1)
    blocks(events, out, 1, step)
    return succeed(events, out, spec)


SCENARIOS = {
    "succeed": scenario_succeed,
    "fail": lambda e, *_: fail(e, "INTERNAL", "fake failure", "", 3),
    "invalid": lambda e, *_: fail(e, "INVALID_ARGUMENT", "bits must be 2..8",
                                  "scheme.weights.bits", 2),
    "oom": lambda e, *_: fail(e, "RESOURCE_EXHAUSTED", "out of memory", "", 4),
    "crash": scenario_crash,
    "no_result": lambda *_: 0,
    "hang": scenario_hang,
    "stubborn": scenario_stubborn,
    "flood": scenario_flood,
    "garbage": scenario_garbage,
}


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("probe")
    sub.add_parser("version")
    run_parser = sub.add_parser("run")
    run_parser.add_argument("spec")
    run_parser.add_argument("--out", required=True)
    run_parser.add_argument("--events-fd", type=int, default=1)
    run_parser.add_argument("--device", default="")
    run_parser.add_argument("--scenario", default="")
    args = parser.parse_args()
    if args.command == "probe":
        probe()
        return 0
    if args.command == "version":
        print("quantd-engine fake-0.1")
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
