#!/usr/bin/env python3
"""Memory, bytes written and time per block of `quantd-engine run` on a
synthetic LLaMA of 7B width, at several depths.

The model is generated here at run time and never committed: LLaMA-2-7B
shapes (hidden 4096, intermediate 11008, 32 heads, no GQA) with random
float16 weights (normal, std 0.02; norms 1), one safetensors shard per
block plus one for the embedding, final norm and head, and SmolLM2's
tokenizer (vocabulary 49152) as transformers' own GGUF conversion writes
it (tokenizer.json with empty continuing_subword_prefix/end_of_word_suffix).

Per depth and method it runs one job (tiny calibration, evaluation skipped,
PACKED_INT export) and reports:
  * peak RSS of the engine (report.json resources.peak_host_memory_bytes,
    which now covers the export, and the largest VmRSS sampled every
    0.2 s), against the bound of issue #15:
        largest block in fp32 + calibration streams + one output shard;
  * bytes written to the checkpoint per block (the `checkpoint` events'
    size_bytes: the block file and the streams file) and in total;
  * seconds per block (report.json blocks) and the whole wall time.
With --kill-at-block K it also kills the engine with SIGKILL after block
K's checkpoint on the first depth, restarts it, and reports the start-up
time until it resumes and whether the packed artifacts are byte-identical
to the uninterrupted run's.

Usage:
  python3 bench/engine/scale_model.py \\
      --engine build/worker/engine/cli/quantd-engine --threads 2 \\
      --layers 4,12 --methods rtn,osplus --work-dir /tmp/quantd-scale \\
      [--kill-at-block 2] [--json results.json]
"""
import argparse
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMOLLM2 = ROOT / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DATA_DIR = ROOT.parent / "shared/data/wikitext-2"
GIB = float(1 << 30)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", default="4,12")
    parser.add_argument("--methods", default="rtn,osplus")
    parser.add_argument("--scheme", default="w8a8")
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--intermediate", type=int, default=11008)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--n-samples", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--max-shard-mib", type=int, default=1024)
    parser.add_argument("--kill-at-block", type=int, default=-1)
    parser.add_argument("--work-dir", default="/tmp/quantd-scale")
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--json")
    return parser.parse_args()


def write_tokenizer(out):
    """SmolLM2's tokenizer as transformers converts it from the GGUF."""
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(
        str(SMOLLM2.parent), gguf_file=SMOLLM2.name)
    tokenizer.save_pretrained(str(out))
    return len(tokenizer)


def write_model(args, layers, out):
    import torch
    from safetensors.torch import save_file
    if (out / ".complete").exists():
        return
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    vocab = write_tokenizer(out)
    h, f = args.hidden, args.intermediate
    generator = torch.Generator().manual_seed(7)

    def random(*shape):
        return (torch.randn(*shape, generator=generator) * 0.02).half()

    weight_map = {}

    def save(tensors, name):
        save_file(tensors, str(out / name), metadata={"format": "pt"})
        for key in tensors:
            weight_map[key] = name

    total = layers + 1
    save({"model.embed_tokens.weight": random(vocab, h),
          "model.norm.weight": torch.ones(h).half(),
          "lm_head.weight": random(vocab, h)},
         f"model-00001-of-{total:05d}.safetensors")
    for i in range(layers):
        p = f"model.layers.{i}."
        save({p + "input_layernorm.weight": torch.ones(h).half(),
              p + "post_attention_layernorm.weight": torch.ones(h).half(),
              p + "self_attn.q_proj.weight": random(h, h),
              p + "self_attn.k_proj.weight": random(h, h),
              p + "self_attn.v_proj.weight": random(h, h),
              p + "self_attn.o_proj.weight": random(h, h),
              p + "mlp.gate_proj.weight": random(f, h),
              p + "mlp.up_proj.weight": random(f, h),
              p + "mlp.down_proj.weight": random(h, f)},
             f"model-{i + 2:05d}-of-{total:05d}.safetensors")
    (out / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": weight_map}, indent=1))
    (out / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": h, "intermediate_size": f,
        "num_hidden_layers": layers, "num_attention_heads": args.heads,
        "num_key_value_heads": args.heads, "vocab_size": vocab,
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu",
        "tie_word_embeddings": False, "torch_dtype": "float16"}, indent=1))
    (out / ".complete").write_text("")


def spec(args, model, method):
    params = {"search_tokens": 64} if method == "osplus" else {}
    return {
        "model": {"uri": model.resolve().as_uri()},
        "method": method,
        "scheme": {"preset": args.scheme},
        "method_params": params,
        "calibration": {"n_samples": args.n_samples,
                        "seq_len": args.seq_len, "seed": 1},
        "evaluation": {"skip": True},
        "export_formats": ["PACKED_INT"],
    }


class RssSampler:
    """The largest VmRSS of a process, sampled every 0.2 s, overall and per
    stage (the engine's latest progress stage, set by the reader)."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, False
        self.stage, self.by_stage = "load", {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                text = pathlib.Path(f"/proc/{self.pid}/status").read_text()
                rss = int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) * 1024
                self.peak = max(self.peak, rss)
                self.by_stage[self.stage] = max(
                    self.by_stage.get(self.stage, 0), rss)
            except (OSError, AttributeError):
                pass
            time.sleep(0.2)

    def finish(self):
        self.stop = True
        self.thread.join()
        return self.peak


def run_engine(args, spec_path, out, events_path, env=None, kill_at=-1):
    command = [args.engine, "run", str(spec_path), "--out", str(out),
               "--threads", str(args.threads), "--data-dir", args.data_dir,
               "--max-shard-mib", str(args.max_shard_mib)]
    began = time.monotonic()
    with open(events_path, "a") as events, \
            open(str(events_path) + ".stderr", "a") as stderr:
        # Unbuffered: each event is seen as the engine writes it.
        process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                   stderr=stderr, bufsize=0, env=env)
        sampler = RssSampler(process.pid)
        resumed_at = None
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode()
            events.write(line)
            events.flush()
            event = json.loads(line)
            if event.get("type") == "progress":
                sampler.stage = event.get("stage", sampler.stage)
            if (resumed_at is None and event.get("type") == "log" and
                    "resuming after block" in event.get("message", "")):
                resumed_at = time.monotonic() - began
            if (kill_at >= 0 and event.get("type") == "checkpoint" and
                    event.get("part") == "streams" and
                    event.get("block_index") == kill_at):
                process.send_signal(signal.SIGKILL)
        status = process.wait()
    peak = sampler.finish()
    run_engine.by_stage = sampler.by_stage
    return status, time.monotonic() - began, peak, resumed_at


def checkpoint_bytes(events_path):
    per_block, total = {}, 0
    for line in pathlib.Path(events_path).read_text().splitlines():
        event = json.loads(line)
        if event.get("type") != "checkpoint":
            continue
        index = event["block_index"]
        per_block[index] = per_block.get(index, 0) + event["size_bytes"]
        total += event["size_bytes"]
    return per_block, total


def block_fp32_bytes(args):
    h, f = args.hidden, args.intermediate
    return (4 * h * h + 3 * h * f + 2 * h) * 4


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def packed_digests(out):
    return {p.name: sha256(p) for p in sorted((out / "packed").iterdir())}


def main():
    args = parse_args()
    work = pathlib.Path(args.work_dir)
    rows = []
    depths = [int(x) for x in args.layers.split(",")]
    for layers in depths:
        model = work / f"llama7b-width-{layers}l"
        write_model(args, layers, model)
        model_bytes = sum(p.stat().st_size for p in model.glob("*.safetensors"))
        for method in args.methods.split(","):
            job = work / f"job-{layers}l-{method}"
            shutil.rmtree(job, ignore_errors=True)
            job.mkdir(parents=True)
            spec_path = job / "spec.json"
            spec_path.write_text(json.dumps(spec(args, model, method)))
            events = job / "events.jsonl"
            status, seconds, sampled, _ = run_engine(
                args, spec_path, job / "out", events)
            if status != 0:
                sys.exit(f"{job}: exit {status}, see {events}.stderr")
            report = json.loads((job / "out/report.json").read_text())
            per_block, total = checkpoint_bytes(events)
            streams = args.n_samples * args.seq_len * args.hidden * 4 * (
                2 if method == "osplus" else 1)
            bound = block_fp32_bytes(args) + streams + args.max_shard_mib * (1 << 20)
            block_seconds = [b["seconds"] for b in report["blocks"]]
            row = {
                "layers": layers, "method": method, "scheme": args.scheme,
                "model_bytes": model_bytes,
                "peak_rss_bytes": report["resources"]["peak_host_memory_bytes"],
                "sampled_peak_rss_bytes": sampled,
                "sampled_peak_rss_by_stage": dict(run_engine.by_stage),
                "bound_bytes": bound,
                "wall_seconds": report["resources"]["wall_seconds"],
                "seconds_per_block": sum(block_seconds) / len(block_seconds),
                "checkpoint_bytes_per_block": sorted(set(per_block.values())),
                "checkpoint_bytes_total": total,
            }
            if args.kill_at_block >= 0 and layers == depths[0]:
                row.update(resume_check(args, spec_path, job, layers))
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(job / "out", ignore_errors=True)
    print("\n| layers | method | peak RSS GiB (report / sampled) | bound GiB |"
          " s/block | checkpoint bytes/block | checkpoint total GiB |"
          " wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['layers']} | {r['method']} {r['scheme']} | "
              f"{r['peak_rss_bytes'] / GIB:.2f} / "
              f"{r['sampled_peak_rss_bytes'] / GIB:.2f} | "
              f"{r['bound_bytes'] / GIB:.2f} | {r['seconds_per_block']:.1f} | "
              f"{', '.join(str(b) for b in r['checkpoint_bytes_per_block'])} | "
              f"{r['checkpoint_bytes_total'] / GIB:.2f} | "
              f"{r['wall_seconds']:.0f} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))


def resume_check(args, spec_path, job, layers):
    """SIGKILL after a block's checkpoint, restart, compare artifacts."""
    reference = packed_digests(job / "out")
    out = job / "killed"
    shutil.rmtree(out, ignore_errors=True)
    events = job / "killed-events.jsonl"
    status, _, _, _ = run_engine(args, spec_path, out, events,
                                 kill_at=args.kill_at_block)
    assert status == -signal.SIGKILL, status
    status, seconds, _, resumed_at = run_engine(args, spec_path, out, events)
    assert status == 0, status
    identical = packed_digests(out) == reference
    shutil.rmtree(out, ignore_errors=True)
    return {"resume_startup_seconds": resumed_at,
            "resumed_run_seconds": seconds,
            "resumed_artifacts_identical": identical}


if __name__ == "__main__":
    main()
