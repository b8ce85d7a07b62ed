#!/usr/bin/env python3
"""Quantize SmolLM2 with OS+ through quantd, as a CI pipeline step would.

Submits an OS+ job, prints its progress while waiting, downloads the
artifacts and gates on quality: the script exits non-zero when the
quantized perplexity rises more than --max-ppl-increase over the FP one.

    PYTHONPATH=build/python:client/python \\
        python3 client/python/examples/quantize_pipeline.py \\
        --addr 127.0.0.1:7070 --dest out/ --max-ppl-increase 5%

Exit codes: 0 passed; 1 the perplexity gate failed; 6 the job FAILED;
7 it was CANCELLED; 2 bad arguments or spec; 3 quantd unreachable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quantd_client import (Client, InvalidArgumentError, QuantdError,
                           UnavailableError, state_name)
from quantd.v1 import types_pb2

DEFAULT_MODEL = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1:7070", help="quantd address")
    parser.add_argument("--token", default=None, help="bearer token")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="model path, file:// URI or sha256: blob")
    parser.add_argument("--scheme", default="w8a8", help="quantization preset")
    parser.add_argument("--samples", type=int, default=16, help="calibration windows")
    parser.add_argument("--seq-len", type=int, default=512, help="calibration window length")
    parser.add_argument("--eval-seq-len", type=int, default=None,
                        help="evaluation window length (default: the "
                             "server's, 2048 for language models)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="evaluate on at most this many tokens (at "
                             "least one window)")
    parser.add_argument("--upload", action="store_true",
                        help="upload the model instead of passing its path")
    parser.add_argument("--dest", default="quantized", help="artifact directory")
    parser.add_argument("--max-ppl-increase", default="5%",
                        help="largest acceptable perplexity increase: '5%%' "
                             "relative to FP, or '0.5' in perplexity points")
    return parser.parse_args(argv)


def gate(limit: str, fp_value: float, quantized: float) -> tuple[bool, str]:
    """Whether the increase passes `limit` ("5%" or "0.5"), and why."""
    increase = quantized - fp_value
    if limit.endswith("%"):
        percent = increase / fp_value * 100 if fp_value else float("inf")
        allowed = float(limit[:-1])
        return percent <= allowed, f"+{percent:.2f}% (allowed {allowed:g}%)"
    allowed = float(limit)
    return increase <= allowed, f"+{increase:.4f} (allowed {allowed:g})"


def show_progress(progress: types_pb2.Progress) -> None:
    blocks = (f" block {progress.block_index + 1}/{progress.block_count}"
              if progress.block_count else "")
    print(f"  {progress.stage}{blocks} {progress.fraction:.0%}", flush=True)


def run(args) -> int:
    with Client(args.addr, token=args.token) as client:
        model = client.upload(args.model) if args.upload else args.model
        job = client.submit(model=model, method="osplus", scheme=args.scheme,
                            samples=args.samples, seq_len=args.seq_len,
                            eval_seq_len=args.eval_seq_len,
                            max_tokens=args.max_tokens,
                            labels={"pipeline": "quantize_pipeline"})
        print(f"submitted {job.id}", flush=True)
        job = client.wait(job.id, on_progress=show_progress)
        print(f"{job.id} {state_name(job.state)}")
        if job.state == types_pb2.JOB_STATE_FAILED:
            print(f"error: {job.error.message}", file=sys.stderr)
            return 6
        if job.state == types_pb2.JOB_STATE_CANCELLED:
            return 7
        for path in client.fetch(job.id, Path(args.dest)):
            print(f"  fetched {path}")
        result = job.result
        passed, why = gate(args.max_ppl_increase, result.fp_value,
                           result.quantized_value)
        print(f"{result.metric}: FP {result.fp_value:.4f} -> quantized "
              f"{result.quantized_value:.4f}, {why}: "
              f"{'PASS' if passed else 'FAIL'}")
        return 0 if passed else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except InvalidArgumentError as error:
        print(f"invalid: {error.message}", file=sys.stderr)
        return 2
    except UnavailableError as error:
        print(f"unreachable: {error.message}", file=sys.stderr)
        return 3
    except QuantdError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
