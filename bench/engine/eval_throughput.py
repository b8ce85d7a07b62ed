#!/usr/bin/env python3
"""Perplexity-evaluation throughput of quantd-engine against transformers
(eager attention, fp32) on the same machine in the same run, plus the peak
RSS of each against the model's size.

The engine runs twice per repetition, with float32 Linear products (the
reference path) and with `--matmul-dtype bfloat16`; `--repeat N`
interleaves N repetitions of engine float32, engine bfloat16 and
transformers and reports each side's median and the median of the
per-repetition ratios.

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
      --seq-len 512 --max-tokens 4096 --threads 2 --repeat 3
Prints one JSON object (and a short table on stderr).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch


def run_engine(args, matmul_dtype):
    command = [args.engine, "eval", "--model", args.model, "--data", args.data,
               "--seq-len", str(args.seq_len), "--max-tokens",
               str(args.max_tokens), "--batch-size", str(args.batch_size),
               "--threads", str(args.threads), "--matmul-dtype",
               matmul_dtype, "--json"]
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


def run_transformers(args, model, windows):
    torch.set_num_threads(args.threads)
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
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    model = None
    runs = []
    for _ in range(args.repeat):
        run = {"engine": run_engine(args, "float32"),
               "engine_bf16": run_engine(args, "bfloat16")}
        if model is None:
            model = load_transformers(args.model)
        run["transformers"] = run_transformers(args, model,
                                               run["engine"]["windows"])
        runs.append(run)

    def engine_figures(engine):
        return {"ppl": engine["ppl"],
                "eval_seconds": engine["eval_seconds"],
                "eval_cpu_seconds": engine["eval_cpu_seconds"],
                "tokens_per_second": engine["tokens_per_second"],
                "tokens_per_cpu_second": engine["tokens"]
                / engine["eval_cpu_seconds"],
                "peak_rss_bytes": engine["peak_rss_bytes"]}

    figures = [{"engine": engine_figures(run["engine"]),
                "engine_bf16": engine_figures(run["engine_bf16"]),
                "transformers": {k: run["transformers"][k] for k in (
                    "eval_seconds", "eval_cpu_seconds", "tokens_per_second",
                    "tokens_per_cpu_second", "peak_rss_bytes")}}
               for run in runs]

    def median(side, key):
        return statistics.median(run[side][key] for run in figures)

    def median_ratio(side, key):
        return statistics.median(run[side][key] / run["transformers"][key]
                                 for run in figures)

    first = figures[0]
    result = {
        "machine": {"cpus": os.cpu_count(), "threads": args.threads,
                    "torch": torch.__version__,
                    "load_average": os.getloadavg()},
        "windows": runs[0]["engine"]["windows"], "seq_len": args.seq_len,
        "batch_size": args.batch_size, "repeat": args.repeat,
        "model_file_bytes": os.path.getsize(args.model),
        "fp32_parameter_bytes":
            runs[0]["transformers"]["fp32_parameter_bytes"],
        "runs": figures,
    }
    summary = {}
    for side in ("engine", "engine_bf16", "transformers"):
        summary[side] = {"tokens_per_second_median":
                         median(side, "tokens_per_second")}
    for side in ("engine", "engine_bf16"):
        # Wall time is what a user waits; CPU time is steadier on a machine
        # shared with other work. Ratios are engine / transformers.
        summary[side]["ppl"] = first[side]["ppl"]
        summary[side]["speed_ratio_median"] = median_ratio(
            side, "tokens_per_second")
        summary[side]["cpu_speed_ratio_median"] = median_ratio(
            side, "tokens_per_cpu_second")
    summary["bf16_ppl_change"] = (first["engine_bf16"]["ppl"]
                                  / first["engine"]["ppl"] - 1.0)
    # Only the first repetition's engine runs measure the engine's memory:
    # a child forked later starts with this process's peak RSS (Linux keeps
    # it across fork and exec), transformers' model included.
    for side in ("engine", "engine_bf16"):
        summary[side]["peak_rss_bytes"] = first[side]["peak_rss_bytes"]
        for run in figures[1:]:
            run[side].pop("peak_rss_bytes")
    result["summary"] = summary
    print(json.dumps(result, indent=2))
    for side in ("engine", "engine_bf16"):
        print(f"{side}: {summary[side]['tokens_per_second_median']:.0f} "
              f"tok/s, ratio to transformers "
              f"{summary[side]['speed_ratio_median']:.2f} (CPU time "
              f"{summary[side]['cpu_speed_ratio_median']:.2f}), ppl "
              f"{summary[side]['ppl']:.5f}", file=sys.stderr)
    print(f"transformers: "
          f"{summary['transformers']['tokens_per_second_median']:.0f} tok/s; "
          f"medians of {args.repeat} run(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
