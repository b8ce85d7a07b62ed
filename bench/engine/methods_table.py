#!/usr/bin/env python3
"""Methods x schemes with `quantd-engine run`, on SmolLM2 and MiniLM.

Runs one engine job per (model, method, scheme) with the same budget and
seed, reads each job's report.json and prints a markdown table:

  * SmolLM2-135M-Instruct (GGUF): WikiText-2 perplexity (calibration on
    wiki.valid.tokens, evaluation on wiki.test.raw) of rtn, smoothquant and
    osplus at w8a8, w6a6, w4a4 (per-token activations, per-channel
    weights) and w4a16-g128, plus the FP baseline (the jobs' fp_value,
    which every job computes on the same windows);
  * all-MiniLM-L6-v2: mean embedding cosine to the FP model of rtn, os,
    osplus and osplus with token_clipping at w8a8-pt and w6a6-pt.

Per job: the metric, wall time (report.json resources.wall_seconds: load,
calibration, quantization and evaluation, not the export), peak RSS
(resources.peak_host_memory_bytes) and the quantize stage (the sum of the
per-block seconds in report.json blocks).

The cost of OS+ against one FP forward over the calibration set: the
engine has no command that only runs the calibration forward, so the FP
forward is timed with `quantd-engine eval` on wiki.valid.tokens with the
calibration's window length, window count and batch size (eval_seconds:
the FP forward of the same number of tokens in the same shapes, plus the
LM head and the loss, which the calibration forward does not run; for
SmolLM2 the head is about a fifth of the forward's multiply-adds, so the
ratio is a slight underestimate). MiniLM is an encoder, which `eval`
rejects, so its OS+ quantize stage is compared with RTN's (the same
calibration forwards plus MinMax quantization), and so is SmolLM2's.

The expected orderings (docs/ALGORITHMS.md, issue #4) are checked and
printed as observations; nothing is tuned to meet them.

Usage:
  python3 bench/engine/methods_table.py \
      --engine build/worker/engine/cli/quantd-engine --threads 2 \
      [--n-samples 8 --calib-seq-len 256 --search-tokens 256 \
       --eval-seq-len 512 --eval-max-tokens 4096] \
      [--only smollm2|minilm] [--json results.json] [--markdown table.md]
"""
import argparse
import json
import math
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMOLLM2 = ROOT / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM = ROOT / "models/all-minilm-l6-v2"
DATA_DIR = ROOT.parent / "shared/data/wikitext-2"

# SmolLM2's hidden size 576 is not a multiple of 128, so the engine
# rejects w4a16-g128 (scheme.weights.group_size); 64 is the largest power
# of two dividing both 576 and 1536.
SMOLLM2_SCHEMES = ("w8a8", "w6a6", "w4a4", "w4a16-g64")
SMOLLM2_METHODS = (("rtn", {}), ("smoothquant", {}), ("osplus", {}))
MINILM_SCHEMES = ("w8a8-pt", "w6a6-pt")
MINILM_METHODS = (("rtn", {}), ("os", {}), ("osplus", {}),
                  ("osplus", {"token_clipping": True}))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default=str(
        ROOT / "build/worker/engine/cli/quantd-engine"))
    parser.add_argument("--smollm2", default=str(SMOLLM2))
    parser.add_argument("--minilm", default=str(MINILM))
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--work-dir", default="/tmp/quantd-methods-table")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", default="7")
    parser.add_argument("--only", choices=("smollm2", "minilm"))
    parser.add_argument("--smollm2-schemes", default=",".join(SMOLLM2_SCHEMES))
    # SmolLM2 budget.
    parser.add_argument("--n-samples", type=int, default=8)
    parser.add_argument("--calib-seq-len", type=int, default=256)
    parser.add_argument("--search-tokens", type=int, default=256)
    parser.add_argument("--eval-seq-len", type=int, default=512)
    parser.add_argument("--eval-max-tokens", type=int, default=4096)
    # MiniLM budget (encoders default to 128-token windows).
    parser.add_argument("--minilm-n-samples", type=int, default=32)
    parser.add_argument("--minilm-seq-len", type=int, default=128)
    parser.add_argument("--minilm-search-tokens", type=int, default=1024)
    parser.add_argument("--minilm-eval-max-tokens", type=int, default=16384)
    parser.add_argument("--keep-artifacts", action="store_true",
                        help="keep each job's model/, packed/, checkpoint/")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a finished job of the same spec found in "
                             "--work-dir (an interrupted table resumes)")
    parser.add_argument("--json", help="write every job's figures here")
    parser.add_argument("--markdown", help="write the tables here")
    return parser.parse_args()


def smollm2_spec(args, method, params, scheme):
    return {
        "model": {"uri": pathlib.Path(args.smollm2).resolve().as_uri()},
        "method": method,
        "scheme": {"preset": scheme},
        "method_params": dict(params, **(
            {"search_tokens": args.search_tokens}
            if method == "osplus" else {})),
        "calibration": {"n_samples": args.n_samples,
                        "seq_len": args.calib_seq_len, "seed": args.seed},
        "evaluation": {"seq_len": args.eval_seq_len,
                       "max_tokens": str(args.eval_max_tokens)},
        "export_formats": ["PACKED_INT"],
    }


def minilm_spec(args, method, params, scheme):
    return {
        "model": {"uri": pathlib.Path(args.minilm).resolve().as_uri()},
        "method": method,
        "scheme": {"preset": scheme},
        "method_params": dict(params, **(
            {"search_tokens": args.minilm_search_tokens}
            if method == "osplus" else {})),
        "calibration": {"n_samples": args.minilm_n_samples,
                        "seq_len": args.minilm_seq_len, "seed": args.seed},
        "evaluation": {"seq_len": args.minilm_seq_len,
                       "max_tokens": str(args.minilm_eval_max_tokens)},
        "export_formats": ["PACKED_INT"],
    }


def label(method, params):
    extra = ",".join(f"{key}={json.dumps(value)}"
                     for key, value in sorted(params.items()))
    return f"{method} ({extra})" if extra else method


def run_job(args, name, spec):
    """Runs one job; returns its figures (raises on failure)."""
    work = pathlib.Path(args.work_dir) / name
    spec_path = work / "spec.json"
    text = json.dumps(spec, indent=2)
    command = [args.engine, "run", str(spec_path), "--out", str(work / "out"),
               "--data-dir", args.data_dir, "--threads", str(args.threads)]
    finished = (args.reuse and (work / "out/report.json").exists() and
                spec_path.read_text() == text)
    if not finished:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        spec_path.write_text(text)
        run = subprocess.run(command, capture_output=True, text=True)
        (work / "events.jsonl").write_text(run.stdout)
        (work / "stderr.log").write_text(run.stderr)
        if run.returncode != 0:
            raise RuntimeError(f"{name}: exit {run.returncode}\n"
                               f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    report = json.loads((work / "out/report.json").read_text())
    if not args.keep_artifacts:
        for sub in ("model", "packed", "checkpoint"):
            shutil.rmtree(work / "out" / sub, ignore_errors=True)
    blocks = report["blocks"]
    return {
        "job": name,
        "fp_value": report["result"]["fp_value"],
        "quantized_value": report["result"]["quantized_value"],
        "metric": report["result"]["metric"],
        "wall_seconds": report["resources"]["wall_seconds"],
        "peak_rss_bytes": report["resources"]["peak_host_memory_bytes"],
        "quantize_seconds": sum(block["seconds"] for block in blocks),
        "blocks": len(blocks),
        "command": shlex.join(command),
    }


def fp_forward_seconds(args):
    """quantd-engine eval over calibration-shaped windows (see above)."""
    command = [args.engine, "eval", "--model", args.smollm2, "--data",
               str(pathlib.Path(args.data_dir) / "wiki.valid.tokens"),
               "--seq-len", str(args.calib_seq_len), "--max-tokens",
               str(args.n_samples * args.calib_seq_len), "--batch-size", "8",
               "--threads", str(args.threads), "--json"]
    out = json.loads(subprocess.run(command, check=True, capture_output=True,
                                    text=True).stdout)
    return {"eval_seconds": out["eval_seconds"], "tokens": out["tokens"],
            "command": shlex.join(command)}


def run_model(args, model, specs, schemes, methods):
    rows = {}
    for scheme in schemes:
        for method, params in methods:
            name = f"{model}-{label(method, params)}-{scheme}".replace(
                " ", "").replace("(", "-").replace(")", "").replace(
                "=", "-").replace(",", "-")
            figures = run_job(args, name, specs(args, method, params, scheme))
            rows[(label(method, params), scheme)] = figures
            print(f"{name}: {figures['metric']} fp {figures['fp_value']:.4f} "
                  f"quantized {figures['quantized_value']:.4f} wall "
                  f"{figures['wall_seconds']:.1f} s", file=sys.stderr,
                  flush=True)
    return rows


def mib(value):
    return f"{value / 2**20:.0f}"


def table(rows, schemes, methods, digits, fp_value):
    header = "| method | " + " | ".join(schemes) + " |"
    lines = [header, "|---" * (len(schemes) + 1) + "|"]
    if fp_value is not None:
        lines.append("| FP | " + " | ".join(
            f"{fp_value:.{digits}f}" for _ in schemes) + " |")
    for method in methods:
        cells = [f"{rows[(method, s)]['quantized_value']:.{digits}f}"
                 for s in schemes]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", "| job | wall s | quantize s | peak RSS MiB |",
              "|---|---|---|---|"]
    for (method, scheme), row in rows.items():
        lines.append(f"| {method} {scheme} | {row['wall_seconds']:.1f} | "
                     f"{row['quantize_seconds']:.1f} | "
                     f"{mib(row['peak_rss_bytes'])} |")
    return "\n".join(lines)


def common_fp(rows):
    values = sorted({row["fp_value"] for row in rows.values()})
    if values[-1] - values[0] > 1e-9 * abs(values[0]):
        print(f"warning: FP values differ between jobs: {values}",
              file=sys.stderr)
    return values[0]


def smollm2_checks(rows, fp_value):
    notes = []
    for scheme in ("w6a6", "w4a4"):
        if ("osplus", scheme) not in rows:
            continue
        osplus = rows[("osplus", scheme)]["quantized_value"]
        for other in ("rtn", "smoothquant"):
            value = rows[(other, scheme)]["quantized_value"]
            notes.append((osplus < value, f"{scheme}: OS+ {osplus:.3f} < "
                          f"{other} {value:.3f}"))
    if ("osplus", "w8a8") in rows:
        w8 = rows[("osplus", "w8a8")]["quantized_value"]
        notes.append((w8 <= 1.01 * fp_value,
                      f"w8a8: OS+ {w8:.3f} within 1% of FP {fp_value:.3f} "
                      f"({100 * (w8 / fp_value - 1):+.2f}%)"))
    return notes


def minilm_checks(rows):
    notes = []
    for scheme in MINILM_SCHEMES:
        osplus = rows[("osplus", scheme)]["quantized_value"]
        os_ = rows[("os", scheme)]["quantized_value"]
        rtn = rows[("rtn", scheme)]["quantized_value"]
        notes.append((osplus >= os_ >= rtn, f"{scheme}: OS+ {osplus:.5f} >= "
                      f"OS {os_:.5f} >= RTN {rtn:.5f}"))
    return notes


def ratio_lines(rows, schemes, forward):
    lines = []
    for scheme in schemes:
        osplus = rows[("osplus", scheme)]
        rtn = rows[("rtn", scheme)]
        text = (f"- {scheme}: OS+ quantize stage {osplus['quantize_seconds']:.1f}"
                f" s (job wall {osplus['wall_seconds']:.1f} s); RTN quantize "
                f"stage {rtn['quantize_seconds']:.1f} s; OS+/RTN = "
                f"{osplus['quantize_seconds'] / rtn['quantize_seconds']:.2f}")
        if forward is not None:
            text += (f"; OS+ quantize / FP forward = "
                     f"{osplus['quantize_seconds'] / forward['eval_seconds']:.1f}"
                     f", OS+ job wall / FP forward = "
                     f"{osplus['wall_seconds'] / forward['eval_seconds']:.1f}")
        lines.append(text)
    return lines


def main():
    args = parse_args()
    began = time.monotonic()
    load_before = os.getloadavg()[1]
    out = {"command": shlex.join([sys.executable] + sys.argv),
           "budget": {key: value for key, value in vars(args).items()
                      if key not in ("json", "markdown")}}
    sections = []
    if args.only in (None, "smollm2"):
        forward = fp_forward_seconds(args)
        schemes = args.smollm2_schemes.split(",")
        rows = run_model(args, "smollm2", smollm2_spec, schemes,
                         SMOLLM2_METHODS)
        fp_value = common_fp(rows)
        methods = [label(m, p) for m, p in SMOLLM2_METHODS]
        sections.append("SmolLM2-135M-Instruct, WikiText-2 perplexity "
                        "(lower is better)\n\n" +
                        table(rows, schemes, methods, 3, fp_value))
        sections.append(
            f"FP forward over the calibration windows ({forward['tokens']} "
            f"tokens, `{forward['command']}`): "
            f"{forward['eval_seconds']:.2f} s\n\n" + "\n".join(
                ratio_lines(rows, schemes, forward)))
        checks = smollm2_checks(rows, fp_value)
        out["smollm2"] = {"rows": {f"{m} {s}": r for (m, s), r in rows.items()},
                          "fp_forward": forward,
                          "checks": [[ok, text] for ok, text in checks]}
        sections.append("\n".join(f"- {'holds' if ok else 'DOES NOT HOLD'}: "
                                  f"{text}" for ok, text in checks))
    if args.only in (None, "minilm"):
        rows = run_model(args, "minilm", minilm_spec, MINILM_SCHEMES,
                         MINILM_METHODS)
        methods = [label(m, p) for m, p in MINILM_METHODS]
        sections.append("all-MiniLM-L6-v2, mean embedding cosine to FP "
                        "(higher is better)\n\n" +
                        table(rows, MINILM_SCHEMES, methods, 5, None))
        sections.append("\n".join(ratio_lines(rows, MINILM_SCHEMES, None)))
        checks = minilm_checks(rows)
        out["minilm"] = {"rows": {f"{m} {s}": r for (m, s), r in rows.items()},
                         "checks": [[ok, text] for ok, text in checks]}
        sections.append("\n".join(f"- {'holds' if ok else 'DOES NOT HOLD'}: "
                                  f"{text}" for ok, text in checks))
    out["total_seconds"] = time.monotonic() - began
    out["job_wall_seconds"] = sum(
        row["wall_seconds"] for model in ("smollm2", "minilm")
        for row in out.get(model, {}).get("rows", {}).values())
    out["load_average_5min"] = [load_before, os.getloadavg()[1]]
    markdown = (f"`{out['command']}`\n\n" + "\n\n".join(sections) +
                f"\n\nTotal: {out['total_seconds'] / 60:.1f} min (sum of the "
                f"jobs' wall times {out['job_wall_seconds'] / 60:.1f} min); "
                f"5-minute "
                f"load average {load_before:.1f} at the start, "
                f"{out['load_average_5min'][1]:.1f} at the end.\n")
    print(markdown)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(markdown)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(out, indent=2))
    return 0 if math.isfinite(out["total_seconds"]) else 1


if __name__ == "__main__":
    sys.exit(main())
