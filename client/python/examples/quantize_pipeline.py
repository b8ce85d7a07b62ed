#!/usr/bin/env python3
"""Quantize SmolLM2 with OS+ through quantd, as a CI pipeline step would.

Submits an OS+ job, prints its progress while waiting, downloads the
artifacts and gates on quality: the script exits non-zero when the
quantized perplexity rises more than --max-ppl-increase over the FP one.
With --mlflow-uri the finished job is also logged to an MLflow run (params,
metrics, per-block losses, report, manifest, model).

    pip install ./client/python          # or "./client/python[mlflow]"
    python3 client/python/examples/quantize_pipeline.py \\
        --addr 127.0.0.1:7070 --dest out/ --max-ppl-increase 5%

The submit is idempotent: re-running the step with the same spec returns
the same job (pass --request-id, e.g. the pipeline's run id, for a new one).

Exit codes: 0 passed; 1 the perplexity gate failed; 6 the job FAILED;
7 it was CANCELLED; 2 bad arguments or spec; 3 quantd unreachable;
5 logging to MLflow failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quantd_client import (Client, InvalidArgumentError, QuantdError,
                           UnavailableError, state_name)
from quantd_client.v1 import types_pb2

DEFAULT_MODEL = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


class MlflowLoggingError(Exception):
    """MLflow is missing, or the tracking server refused or failed."""


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
    parser.add_argument("--request-id", default=None,
                        help="idempotency key of the submit (default: "
                             "derived from the spec)")
    parser.add_argument("--mlflow-uri", default=None,
                        help="MLflow tracking URI: log the finished job "
                             "there (needs quantd-client[mlflow])")
    parser.add_argument("--mlflow-experiment", default="quantd",
                        help="MLflow experiment of the run")
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


def log_to_mlflow(client: Client, job: types_pb2.Job, args) -> None:
    """Logs the finished job to MLflow (imported only when asked for)."""
    try:
        from mlflow.exceptions import MlflowException
        from quantd_client.mlflow import log_job
    except ImportError as error:
        raise MlflowLoggingError(error) from None
    try:
        run_id = log_job(client, job.id, tracking_uri=args.mlflow_uri,
                         experiment=args.mlflow_experiment,
                         download_dir=Path(args.dest))
    except (MlflowException, OSError) as error:
        raise MlflowLoggingError(error) from None
    print(f"logged {job.id} to MLflow run {run_id}", flush=True)


def run(args) -> int:
    with Client(args.addr, token=args.token) as client:
        model = client.upload(args.model) if args.upload else args.model
        job = client.submit(model=model, method="osplus", scheme=args.scheme,
                            samples=args.samples, seq_len=args.seq_len,
                            eval_seq_len=args.eval_seq_len,
                            max_tokens=args.max_tokens,
                            labels={"pipeline": "quantize_pipeline"},
                            request_id=args.request_id)
        print(f"submitted {job.id}", flush=True)
        job = client.wait(job.id, on_progress=show_progress)
        print(f"{job.id} {state_name(job.state)}")
        if job.state == types_pb2.JOB_STATE_SUCCEEDED:
            for path in client.fetch(job.id, Path(args.dest)):
                print(f"  fetched {path}")
        if args.mlflow_uri:
            log_to_mlflow(client, job, args)
        if job.state == types_pb2.JOB_STATE_FAILED:
            print(f"error: {job.error.message}", file=sys.stderr)
            return 6
        if job.state == types_pb2.JOB_STATE_CANCELLED:
            return 7
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
    except MlflowLoggingError as error:
        print(f"mlflow: {error}", file=sys.stderr)
        return 5


if __name__ == "__main__":
    sys.exit(main())
