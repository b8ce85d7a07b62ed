#!/usr/bin/env python3
"""Perplexity-evaluation throughput of quantd-engine against transformers
(eager attention, fp32) on the same machine in the same run, plus the peak
RSS of each against the model's size.

Both evaluate the same number of windows of the same length with the same
thread count; the engine runs `quantd-engine eval --json` in a subprocess,
transformers runs in this process (model loaded as in
tests/reference/model/smollm2_perplexity.py, loss from labels as the
papers' scripts do). The transformers side reads the engine's token count
only; its ids come from its own (GGUF) tokenizer, which is fine for a speed
comparison (tests/reference covers numerical parity on identical ids).

Usage:
  bench/engine/eval_throughput.py --engine build/worker/engine/cli/quantd-engine \
      --model models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
      --data ../shared/data/wikitext-2/wiki.test.raw \
      --seq-len 512 --max-tokens 4096 --threads 2
Prints one JSON object (and a short table on stderr).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch


def run_engine(args):
    command = [args.engine, "eval", "--model", args.model, "--data", args.data,
               "--seq-len", str(args.seq_len), "--max-tokens",
               str(args.max_tokens), "--batch-size", str(args.batch_size),
               "--threads", str(args.threads), "--json"]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def load_transformers(gguf_path):
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    directory, name = os.path.split(gguf_path)
    config = AutoConfig.from_pretrained(directory, gguf_file=name)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_gguf_checkpoint(gguf_path, return_tensors=True,
                                   model_to_load=model)["tensors"]
    model.load_state_dict(tensors, strict=False)
    model.tie_weights()
    return model.float().eval()


def run_transformers(args, windows):
    torch.set_num_threads(args.threads)
    model = load_transformers(args.model)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (windows, args.seq_len),
                        generator=generator)
    start = time.perf_counter()
    cpu_start = time.process_time()
    losses = []
    with torch.no_grad():
        for first in range(0, windows, args.batch_size):
            batch = ids[first : first + args.batch_size]
            losses.append(model(batch, labels=batch).loss.item())
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    return {
        "eval_seconds": seconds,
        "eval_cpu_seconds": cpu_seconds,
        "tokens_per_second": windows * args.seq_len / seconds,
        "tokens_per_cpu_second": windows * args.seq_len / cpu_seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        * 1024,
        "fp32_parameter_bytes": sum(p.numel() for p in model.parameters()) * 4,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    engine = run_engine(args)
    reference = run_transformers(args, engine["windows"])
    result = {
        "machine": {"cpus": os.cpu_count(), "threads": args.threads,
                    "torch": torch.__version__},
        "windows": engine["windows"], "seq_len": args.seq_len,
        "batch_size": args.batch_size,
        "model_file_bytes": os.path.getsize(args.model),
        "fp32_parameter_bytes": reference["fp32_parameter_bytes"],
        "engine": {
            "ppl": engine["ppl"],
            "eval_seconds": engine["eval_seconds"],
            "eval_cpu_seconds": engine["eval_cpu_seconds"],
            "tokens_per_second": engine["tokens_per_second"],
            "tokens_per_cpu_second": engine["tokens"]
            / engine["eval_cpu_seconds"],
            "peak_rss_bytes": engine["peak_rss_bytes"],
        },
        "transformers": {k: reference[k] for k in (
            "eval_seconds", "eval_cpu_seconds", "tokens_per_second",
            "tokens_per_cpu_second", "peak_rss_bytes")},
    }
    # Wall time is what a user waits; CPU time is steadier on a machine
    # shared with other work. Both ratios are engine / transformers.
    result["speed_ratio"] = (result["engine"]["tokens_per_second"]
                             / reference["tokens_per_second"])
    result["cpu_speed_ratio"] = (result["engine"]["tokens_per_cpu_second"]
                                 / reference["tokens_per_cpu_second"])
    print(json.dumps(result, indent=2))
    mib = 1 << 20
    print(f"engine {engine['tokens_per_second']:.0f} tok/s, peak RSS "
          f"{engine['peak_rss_bytes'] / mib:.0f} MiB | transformers "
          f"{reference['tokens_per_second']:.0f} tok/s, peak RSS "
          f"{reference['peak_rss_bytes'] / mib:.0f} MiB | ratio "
          f"{result['speed_ratio']:.2f} (CPU time "
          f"{result['cpu_speed_ratio']:.2f}) | fp32 params "
          f"{reference['fp32_parameter_bytes'] / mib:.0f} MiB",
          file=sys.stderr)


if __name__ == "__main__":
    main()
