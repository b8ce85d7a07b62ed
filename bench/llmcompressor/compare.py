#!/usr/bin/env python3
"""quantd's engine and llm-compressor side by side on SmolLM2-135M-Instruct:
the same FP model, the same calibration token ids, the same evaluation
windows and evaluators, both tools timed in the same invocation.

Run it with the interpreter of scripts/install-llmcompressor's venv:

  build/venv-llmcompressor/bin/python bench/llmcompressor/compare.py \\
      --pair gptq-w4a16-g64 --json gptq.json

Steps (each timed; the load average is recorded around each):

 1. FP model. `quantd-engine run` of an RTN job with the evaluation skipped
    and an HF_SAFETENSORS export: DIR/model is the engine's own FP model in
    HF layout (RTN transforms no weight; report.json says
    hf_model_weights: transformed_fp), with the tokenizer files the engine
    writes. For SmolLM2 that is the dequantized Q4_1 GGUF. llm-compressor
    loads this directory.
 2. Calibration ids. The engine draws n_samples windows of seq_len tokens
    of wiki.valid.tokens with std::mt19937_64(seed), start = draw mod
    (n - seq_len + 1) (worker/engine/pipeline/calibration_data.cc), from the
    whole file tokenized without special tokens. This script draws them the
    same way (the SmolLM2 reference tokenizer of tests/reference/tokenizer,
    mt19937_64 in Python) and checks them token for token against the
    engine: a job stopped after block 0 (OmniQuant with 0 epochs: it keeps
    the FP stream) leaves DIR/checkpoint/streams.safetensors with stream.fp,
    the FP output of block 0 at every position of every window; transformers
    runs block 0 of the FP model on the drawn ids and must give the same
    tensor (checked: bit for bit; any other id changes its position's row).
 3. quantd: `quantd-engine run` with the pair's method, scheme and
    method_params (any method string, e.g. a recipe "smoothquant+gptq";
    --method / --method-params / --scheme override), exporting
    COMPRESSED_TENSORS. Its events are timestamped as they arrive, so the
    job's stages (load, quantize, its own FP + quantized evaluation,
    export) are timed separately; quantize_seconds is the sum of the
    per-block seconds of report.json, as bench/engine/methods_table.py.
 4. llm-compressor: oneshot() with the pair's recipe on the FP directory
    and the verified ids (a pre-tokenized datasets.Dataset, in the engine's
    order, shuffle off), torch.set_num_threads(--threads), then
    save_pretrained(save_compressed=True) (compressed-tensors).
 5. Evaluation, identical for both tools' compressed-tensors directories:
    (a) transformers (+ compressed-tensors) loads the directory (weights
        decompressed; for schemes with activation quantizers the simulated
        quantized forward) and computes the perplexity of the engine's
        evaluation windows (wiki.test.raw, CRLF -> LF, tokenized whole, the
        first max_tokens / seq_len windows of seq_len; ppl = exp(mean of the
        windows' mean token loss), docs/EVALUATION.md);
    (b) weight-only schemes: the decompressed weights are written as a
        dense float32 HF directory (the FP directory's config and tokenizer)
        and `quantd-engine eval` measures it: the engine's evaluator, the
        one behind the engine's own figures. The FP directory gets (a) and
        (b) too.

Work files go to --work-dir (default build/bench-llmcompressor/PAIR; the
dense copies, 0.5 GB each, are removed after their evaluation). --reuse
keeps a finished FP export, quantd job or llm-compressor output found
there. The JSON written by --json has repository-relative paths only.
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/reference/tokenizer"))
sys.path.insert(0, str(ROOT / "tests/reference"))
from transformers_eval import perplexity, window_losses  # noqa: E402

GGUF = ROOT / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "generation_config.json")


# --------------------------------------------------------------------------
# The pairs: quantd's job and llm-compressor's recipe for the same setting.

def w4_group_args(symmetric, group_size, actorder):
    from compressed_tensors.quantization import QuantizationArgs
    return QuantizationArgs(num_bits=4, type="int", strategy="group",
                            group_size=group_size, symmetric=symmetric,
                            dynamic=False, actorder=actorder)


def config_groups(weights, activations=None):
    from compressed_tensors.quantization import QuantizationScheme
    return {"group_0": QuantizationScheme(
        targets=["Linear"], weights=weights, input_activations=activations)}


def w8a8_groups():
    from compressed_tensors.quantization import QuantizationArgs
    weights = QuantizationArgs(num_bits=8, type="int", strategy="channel",
                               symmetric=True, dynamic=False)
    activations = QuantizationArgs(num_bits=8, type="int", strategy="token",
                                   symmetric=True, dynamic=True)
    return config_groups(weights, activations)


def recipe_gptq_w4(symmetric, actorder):
    def build():
        from llmcompressor.modifiers.quantization import GPTQModifier
        return [GPTQModifier(
            config_groups=config_groups(w4_group_args(symmetric, 64, None)),
            ignore=["lm_head"], actorder=actorder, block_size=128,
            dampening_frac=0.01)]
    return build


def recipe_awq_w4():
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from llmcompressor.modifiers.transform.awq import AWQModifier
    return [AWQModifier(),
            QuantizationModifier(
                config_groups=config_groups(w4_group_args(False, 64, None)),
                ignore=["lm_head"])]


def recipe_rtn_w8a8():
    from llmcompressor.modifiers.quantization import QuantizationModifier
    return [QuantizationModifier(config_groups=w8a8_groups(),
                                 ignore=["lm_head"])]


def recipe_smoothquant_w8a8():
    from llmcompressor.modifiers.transform.smoothquant import (
        SmoothQuantModifier)
    return [SmoothQuantModifier(smoothing_strength=0.5)] + recipe_rtn_w8a8()


def recipe_smoothquant_gptq_w8a8():
    from llmcompressor.modifiers.quantization import GPTQModifier
    from llmcompressor.modifiers.transform.smoothquant import (
        SmoothQuantModifier)
    return [SmoothQuantModifier(smoothing_strength=0.5),
            GPTQModifier(config_groups=w8a8_groups(), ignore=["lm_head"],
                         actorder=None, block_size=128, dampening_frac=0.01)]


PAIRS = {
    # quantd's preset w4a16-g64 is asymmetric (MinMax, zero included), the
    # grid of compressed-tensors' asymmetric int4. llm-compressor computes
    # the groups' (scale, zero point) from the weights before the sweep,
    # which is quantd's static_groups; no activation ordering on either side.
    "gptq-w4a16-g64": {
        "quantd": {"method": "gptq", "scheme": {"preset": "w4a16-g64"},
                   "method_params": {"static_groups": True}},
        "llmcompressor": recipe_gptq_w4(False, None),
        "recipe": "GPTQModifier(W4 int asym group 64, actorder=None, "
                  "block_size 128, dampening_frac 0.01), ignore lm_head",
        "activations": False,
    },
    # Both tools' activation ordering with static groups: llm-compressor's
    # default (actorder "static") and quantd's act_order (static_groups on).
    "gptq-w4a16-g64-actorder": {
        "quantd": {"method": "gptq", "scheme": {"preset": "w4a16-g64"},
                   "method_params": {"act_order": True}},
        "llmcompressor": recipe_gptq_w4(False, "static"),
        "recipe": "GPTQModifier(W4 int asym group 64, actorder=static, "
                  "block_size 128, dampening_frac 0.01), ignore lm_head",
        "activations": False,
    },
    # Each tool's defaults: both order columns by activation with static
    # groups (quantd's default until 2026-12-07 took each group's range
    # when the sweep reached it, without act order; docs/GPTQ.md §6.1).
    "gptq-w4a16-g64-defaults": {
        "quantd": {"method": "gptq", "scheme": {"preset": "w4a16-g64"},
                   "method_params": {}},
        "llmcompressor": recipe_gptq_w4(False, "static"),
        "recipe": "GPTQModifier(W4 int asym group 64, actorder=static "
                  "(its default), block_size 128, dampening_frac 0.01), "
                  "ignore lm_head",
        "activations": False,
    },
    # Symmetric: the grids differ (quantd's narrow [-7, 7], step absmax/7;
    # compressed-tensors' [-8, 7], step absmax/7.5).
    "gptq-w4a16-g64-sym": {
        "quantd": {"method": "gptq",
                   "scheme": {"preset": "w4a16-g64",
                              "weights": {"symmetric": True}},
                   "method_params": {"static_groups": True}},
        "llmcompressor": recipe_gptq_w4(True, None),
        "recipe": "GPTQModifier(W4 int sym group 64, actorder=None, "
                  "block_size 128, dampening_frac 0.01), ignore lm_head",
        "activations": False,
    },
    "awq-w4a16-g64": {
        "quantd": {"method": "awq", "scheme": {"preset": "w4a16-g64"},
                   "method_params": {}},
        "llmcompressor": recipe_awq_w4,
        "recipe": "AWQModifier() (mappings inferred, duo_scaling, n_grid 20)"
                  " + QuantizationModifier(W4 int asym group 64), "
                  "ignore lm_head",
        "activations": False,
    },
    # Round to nearest with dynamic per-token activations: neither tool
    # needs calibration data for it (llm-compressor's QuantizationModifier
    # with dynamic activations observes only the weights).
    "rtn-w8a8": {
        "quantd": {"method": "rtn", "scheme": {"preset": "w8a8"},
                   "method_params": {}},
        "llmcompressor": recipe_rtn_w8a8,
        "recipe": "QuantizationModifier(W8A8: int8 channel sym weights, "
                  "int8 dynamic per-token sym activations), ignore lm_head",
        "activations": True,
    },
    "smoothquant-w8a8": {
        "quantd": {"method": "smoothquant", "scheme": {"preset": "w8a8"},
                   "method_params": {"alpha": 0.5}},
        "llmcompressor": recipe_smoothquant_w8a8,
        "recipe": "SmoothQuantModifier(smoothing_strength 0.5) + "
                  "QuantizationModifier(W8A8 as rtn-w8a8), ignore lm_head",
        "activations": True,
    },
    "smoothquant+gptq-w8a8": {
        "quantd": {"method": "smoothquant+gptq", "scheme": {"preset": "w8a8"},
                   "method_params": {"smoothquant": {"alpha": 0.5},
                                     "gptq": {}}},
        "llmcompressor": recipe_smoothquant_gptq_w8a8,
        "recipe": "SmoothQuantModifier(smoothing_strength 0.5) + "
                  "GPTQModifier(W8A8: int8 channel sym weights, int8 dynamic"
                  " per-token sym activations, actorder=None), ignore lm_head",
        "activations": True,
    },
}


# --------------------------------------------------------------------------
# Small helpers.

def rel(path):
    """A repository-relative path for the JSON and the messages."""
    path = pathlib.Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        try:
            return "../" + str(path.relative_to(ROOT.parent))
        except ValueError:
            return path.name


def load_average():
    return [round(x, 2) for x in os.getloadavg()]


def log(message):
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp} load {load_average()[0]:.2f}] {message}", file=sys.stderr,
          flush=True)


def run_engine_job(engine, spec, work, data_dir, threads, env=None,
                   keep_checkpoint=False, expect_result=True):
    """Runs one `quantd-engine run`; returns (result event, timed events,
    wall seconds). Events are saved to WORK/events.jsonl with the time
    each arrived."""
    work.mkdir(parents=True, exist_ok=True)
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    command = [str(engine), "run", str(spec_path), "--out", str(work / "out"),
               "--data-dir", str(data_dir), "--threads", str(threads)]
    if keep_checkpoint:
        command.append("--keep-checkpoint")
    began = time.monotonic()
    events = []
    with subprocess.Popen(command, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **(env or {})}) as process:
        for line in process.stdout:
            if line.strip():
                event = json.loads(line)
                event["_t"] = time.monotonic() - began
                events.append(event)
        stderr = process.stderr.read()
    wall = time.monotonic() - began
    with open(work / "events.jsonl", "w") as out:
        for event in events:
            out.write(json.dumps(event) + "\n")
    results = [e for e in events if e.get("type") == "result"]
    errors = [e for e in events if e.get("type") == "error"]
    if errors or (expect_result and (process.returncode != 0 or
                                     len(results) != 1)):
        raise SystemExit(f"quantd-engine run {rel(spec_path)} failed "
                         f"(exit {process.returncode}): {errors}\n"
                         f"{stderr[-2000:]}")
    return (results[0] if results else None), events, wall


def engine_eval(engine, model_dir, data_dir, seq_len, max_tokens, threads):
    began = time.monotonic()
    run = subprocess.run(
        [str(engine), "eval", "--model", str(model_dir), "--data",
         str(data_dir / "wiki.test.raw"), "--seq-len", str(seq_len),
         "--max-tokens", str(max_tokens), "--threads", str(threads),
         "--json"], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"quantd-engine eval {rel(model_dir)} failed:\n"
                         f"{run.stderr[-2000:]}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = time.monotonic() - began
    return out


# --------------------------------------------------------------------------
# Calibration ids: the engine's DrawWindows, and their check.

class MT19937_64:
    """std::mt19937_64 (C++11 [rand.predef]): 10000th output of the
    default seed 5489 is 9981545732273789042 (checked in main)."""
    N, M = 312, 156
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = [seed & self.MASK]
        for i in range(1, self.N):
            previous = self.state[-1]
            self.state.append((6364136223846793005 *
                               (previous ^ (previous >> 62)) + i) & self.MASK)
        self.index = self.N

    def __call__(self):
        if self.index >= self.N:
            mt = self.state
            for k in range(self.N):
                y = (mt[k] & 0xFFFFFFFF80000000) | (
                    mt[(k + 1) % self.N] & 0x7FFFFFFF)
                mt[k] = mt[(k + self.M) % self.N] ^ (y >> 1) ^ (
                    0xB5026F5AA96619E9 if y & 1 else 0)
            self.index = 0
        x = self.state[self.index]
        self.index += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & self.MASK


def smollm2_tokenizer():
    import smollm2_reference
    return smollm2_reference.build_tokenizer(
        smollm2_reference.read_metadata(str(GGUF)))


def draw_calibration(tokenizer, path, n_samples, seq_len, seed):
    """worker/engine/pipeline/calibration_data.cc: the file tokenized as
    read (no newline conversion), no special tokens."""
    import torch
    text = path.read_bytes().decode("utf-8")
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    generator = MT19937_64(seed)
    positions = len(ids) - seq_len + 1
    starts = [generator() % positions for _ in range(n_samples)]
    return torch.tensor([ids[s:s + seq_len] for s in starts],
                        dtype=torch.int64), starts


def evaluation_windows(tokenizer, path, seq_len, max_tokens):
    import torch
    text = path.read_bytes().decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    count = len(ids) // seq_len
    if max_tokens > 0:
        count = min(count, max_tokens // seq_len)
    return torch.tensor(ids[:count * seq_len], dtype=torch.int64).view(
        count, seq_len)


def check_calibration_ids(args, engine, windows, fp_dir, work):
    """Block 0's FP output on WINDOWS (transformers) against the engine's
    stream.fp after block 0 of a job with the same calibration spec."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    spec = {"model": {"uri": GGUF.as_uri()}, "method": "omniquant",
            "method_params": {"epochs": 0},
            "scheme": {"preset": "w4a16-g64"},
            "calibration": calibration_spec(args),
            "evaluation": {"skip": True}, "export_formats": []}
    shutil.rmtree(work, ignore_errors=True)
    _, _, wall = run_engine_job(
        engine, spec, work, args.data_dir, args.threads,
        env={"QUANTD_ENGINE_STOP_AFTER_BLOCK": "0"}, keep_checkpoint=True,
        expect_result=False)
    streams = load_file(str(work / "out/checkpoint/streams.safetensors"))
    engine_fp = streams["stream.fp"].reshape(windows.shape + (-1,))
    model = AutoModelForCausalLM.from_pretrained(
        str(fp_dir), dtype=torch.float32, attn_implementation="sdpa").eval()
    captured = {}

    def hook(_module, _inputs, output):
        captured["x"] = output[0] if isinstance(output, tuple) else output

    handle = model.model.layers[0].register_forward_hook(hook)
    with torch.no_grad():
        model.model(windows)
    handle.remove()
    ours = captured["x"]
    per_position = (ours - engine_fp).abs().amax(-1)
    scale = float(engine_fp.abs().max())
    # A different token changes its row by O(1); float noise is ~1e-6.
    mismatched = int((per_position > 1e-3 * scale).sum())
    result = {"max_abs_difference": float(per_position.max()),
              "stream_max_abs": scale,
              "positions": int(per_position.numel()),
              "positions_differing": mismatched,
              "bitwise_equal": bool(torch.equal(ours, engine_fp)),
              "engine_seconds": round(wall, 1)}
    shutil.rmtree(work, ignore_errors=True)
    if mismatched:
        raise SystemExit(f"calibration ids do not match the engine's: {result}")
    return result


def calibration_spec(args):
    return {"n_samples": args.n_samples, "seq_len": args.calib_seq_len,
            "seed": str(args.seed)}


# --------------------------------------------------------------------------
# Evaluation.

def paired_ratio(losses_a, losses_b):
    """ppl(a) / ppl(b) on the same windows, with the interval of ±2
    standard errors of the mean per-window log-ppl difference."""
    diffs = [a - b for a, b in zip(losses_a, losses_b)]
    count = len(diffs)
    mean = sum(diffs) / count
    spread = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (count - 1)
                       / count) if count > 1 else float("inf")
    return {"ratio": math.exp(mean), "low": math.exp(mean - 2 * spread),
            "high": math.exp(mean + 2 * spread), "windows": count}


def load_compressed(directory, activations):
    """A compressed-tensors directory in transformers: weights decompressed
    (weight-only), or the simulated quantized forward (activations)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils.quantization_config import CompressedTensorsConfig
    kwargs = {}
    if not activations:
        kwargs["quantization_config"] = CompressedTensorsConfig(
            run_compressed=False)
    return AutoModelForCausalLM.from_pretrained(
        str(directory), dtype=torch.float32, attn_implementation="sdpa",
        **kwargs).eval()


def write_dense(model, fp_dir, out):
    """The model's (decompressed) weights under the FP directory's tensor
    names, with its config and tokenizer: what `quantd-engine eval` reads."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(str(fp_dir / "model.safetensors"), "pt") as f:
        names = list(f.keys())
    state = model.state_dict()
    missing = [n for n in names if n not in state]
    if missing:
        raise SystemExit(f"decompressed model lacks {missing[:5]}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    save_file({n: state[n].detach().float().contiguous() for n in names},
              str(out / "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json",) + TOKENIZER_FILES:
        if (fp_dir / name).exists():
            shutil.copy(fp_dir / name, out / name)


def evaluate_directory(args, engine, directory, windows, activations, label,
                       compressed=True):
    """(a) transformers and (b) the engine's evaluator (weight-only)."""
    import torch
    from transformers import AutoModelForCausalLM
    began = time.monotonic()
    if compressed:
        model = load_compressed(directory, activations)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            str(directory), dtype=torch.float32,
            attn_implementation="sdpa").eval()
    out = {"transformers_ppl": perplexity(model, windows, args.threads)}
    out["transformers_seconds"] = round(time.monotonic() - began, 1)
    log(f"{label}: transformers ppl {out['transformers_ppl']:.6f}")
    if args.long_eval_tokens:
        losses = window_losses(model, args.long_windows, args.threads)
        out["long_eval_window_losses"] = losses
        out["long_eval_ppl"] = math.exp(sum(losses) / len(losses))
        log(f"{label}: transformers ppl {out['long_eval_ppl']:.6f} on "
            f"{len(losses)} windows")
    if not activations:
        if compressed:
            dense = args.work_dir / f"dense-{label}"
            write_dense(model, args.fp_dir, dense)
        else:
            dense = directory
        del model
        figures = engine_eval(engine, dense, args.data_dir, args.eval_seq_len,
                              args.eval_max_tokens, args.threads)
        out["engine_eval_ppl"] = figures["ppl"]
        out["engine_eval_seconds"] = round(figures["wall_seconds"], 1)
        out["engine_eval_windows"] = figures.get("windows")
        log(f"{label}: quantd-engine eval ppl {figures['ppl']:.6f}")
        if compressed and not args.keep_dense:
            shutil.rmtree(dense, ignore_errors=True)
    return out


# --------------------------------------------------------------------------
# The two tools.

def fp_export(args, engine):
    """An RTN job, evaluation skipped, HF_SAFETENSORS: the engine's FP
    model (RTN folds nothing into the weights) with its tokenizer."""
    work = args.work_dir / "fp"
    model_dir = work / "out/model"
    if args.reuse and (model_dir / "model.safetensors").exists():
        return model_dir, None
    shutil.rmtree(work, ignore_errors=True)
    spec = {"model": {"uri": GGUF.as_uri()}, "method": "rtn",
            "scheme": {"preset": "w8a16-g32"},
            "calibration": {"n_samples": 1, "seq_len": 16, "seed": "0"},
            "evaluation": {"skip": True}, "export_formats": ["HF_SAFETENSORS"]}
    _, _, wall = run_engine_job(engine, spec, work, args.data_dir,
                                args.threads)
    report = json.loads((work / "out/report.json").read_text())
    if report.get("hf_model_weights") != "transformed_fp":
        raise SystemExit(f"unexpected hf_model_weights in {rel(work)}")
    return model_dir, wall


def stage_seconds(events):
    """Seconds per engine stage from the arrival times of its progress
    events: load (to the first progress event), quantize (the calibration
    stream's embedding and every block), evaluate (FP and quantized),
    export (to the result event)."""
    marks = {}
    for event in events:
        if event.get("type") == "progress":
            marks.setdefault(event["stage"], event["_t"])
        elif event.get("type") == "result":
            marks.setdefault("result", event["_t"])
    # "calibrate" is announced once, before block 0: it counts as quantize.
    if "calibrate" in marks:
        marks["quantize"] = marks.pop("calibrate")
    order = [s for s in ("quantize", "evaluate", "export", "result")
             if s in marks]
    out = {"load": marks[order[0]] if order else None}
    for here, following in zip(order, order[1:]):
        out[here] = marks[following] - marks[here]
    return {k: round(v, 1) for k, v in out.items() if v is not None}


def run_quantd(args, engine, pair):
    work = args.work_dir / "quantd"
    side = dict(pair["quantd"])
    if args.method:
        side["method"] = args.method
    if args.method_params is not None:
        side["method_params"] = json.loads(args.method_params)
    if args.scheme:
        side["scheme"] = json.loads(args.scheme)
    spec = {"model": {"uri": GGUF.as_uri()}, **side,
            "calibration": calibration_spec(args),
            "evaluation": {"seq_len": args.eval_seq_len,
                           "max_tokens": str(args.eval_max_tokens)},
            "export_formats": ["COMPRESSED_TENSORS"]}
    events_file = work / "events.jsonl"
    if args.reuse and (work / "out/report.json").exists() and \
            events_file.exists() and \
            json.loads((work / "spec.json").read_text()) == spec:
        log(f"quantd: reusing the finished job in {rel(work)}")
        events = [json.loads(l) for l in events_file.read_text().splitlines()]
        result = [e for e in events if e.get("type") == "result"][0]
        wall = events[-1]["_t"]
        reused = True
    else:
        shutil.rmtree(work, ignore_errors=True)
        log(f"quantd: {side['method']} {json.dumps(side['scheme'])} "
            f"{json.dumps(side.get('method_params', {}))}")
        load_before = load_average()
        result, events, wall = run_engine_job(engine, spec, work,
                                              args.data_dir, args.threads)
        reused = False
    report = json.loads((work / "out/report.json").read_text())
    blocks = report.get("blocks", [])
    spec_shown = json.loads(json.dumps(spec))
    spec_shown["model"]["uri"] = "file://<repository>/" + rel(GGUF)
    out = {
        "spec": spec_shown,
        "reused": reused,
        "wall_seconds": round(wall, 1),
        "quantize_seconds": round(sum(b["seconds"] for b in blocks), 1),
        "stages_seconds": stage_seconds(events),
        "own_fp_ppl": result["fp_value"],
        "own_quantized_ppl": result["quantized_value"],
        "peak_rss_mib": round(result["peak_host_memory_bytes"] / 2**20),
    }
    if not reused:
        out["load_average_before"] = load_before
        out["load_average_after"] = load_average()
    stages = out["stages_seconds"]
    out["wall_without_evaluation_seconds"] = round(
        wall - stages.get("evaluate", 0.0), 1)
    log(f"quantd: quantized ppl {result['quantized_value']:.6f} (fp "
        f"{result['fp_value']:.6f}), wall {wall:.1f} s, quantize stage "
        f"{out['quantize_seconds']:.1f} s")
    return out, work / "out/compressed-tensors"


def cpu_workarounds():
    """llm-compressor 0.14.0.1 on a machine without a GPU, with a CUDA
    build of torch: AWQModifier pins its cached activations
    (IntermediatesCache.pin_memory) unconditionally, and pinning needs a
    CUDA driver ("Found no NVIDIA driver on your system"). Pinning only
    speeds host-to-device copies, so without an accelerator it is skipped.
    Returns what was changed, for the JSON."""
    import torch
    if torch.cuda.is_available():
        return []
    from llmcompressor.pipelines.cache import IntermediatesCache
    IntermediatesCache.pin_memory = (
        lambda self, batch_index, input_names=None: None)
    return ["IntermediatesCache.pin_memory is a no-op (no CUDA driver)"]


def run_llmcompressor(args, pair, calibration):
    import torch
    work = args.work_dir / "llmcompressor"
    out_dir = work / "model"
    done = work / "timings.json"
    if args.reuse and done.exists() and (out_dir / "config.json").exists():
        log(f"llm-compressor: reusing {rel(out_dir)}")
        return {**json.loads(done.read_text()), "reused": True}, out_dir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    torch.set_num_threads(args.threads)
    load_before = load_average()
    began = time.monotonic()
    from datasets import Dataset
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM
    import llmcompressor
    workarounds = cpu_workarounds()
    imported = time.monotonic()
    model = AutoModelForCausalLM.from_pretrained(
        str(args.fp_dir), dtype=torch.float32).eval()
    loaded = time.monotonic()
    dataset = Dataset.from_dict({
        "input_ids": calibration.tolist(),
        "attention_mask": torch.ones_like(calibration).tolist()})
    recipe = pair["llmcompressor"]()
    log(f"llm-compressor {llmcompressor.__version__}: {pair['recipe']}")
    oneshot_began = time.monotonic()
    cwd = os.getcwd()
    os.chdir(work)  # anything it writes (logs) stays in the work dir
    try:
        model = oneshot(model=model, dataset=dataset, recipe=recipe,
                        num_calibration_samples=calibration.shape[0],
                        max_seq_length=calibration.shape[1],
                        shuffle_calibration_samples=False, batch_size=1)
    finally:
        os.chdir(cwd)
    oneshot_ended = time.monotonic()
    model.save_pretrained(str(out_dir), save_compressed=True)
    for name in TOKENIZER_FILES:
        if (args.fp_dir / name).exists():
            shutil.copy(args.fp_dir / name, out_dir / name)
    saved = time.monotonic()
    timings = {
        "version": llmcompressor.__version__,
        "recipe": pair["recipe"],
        "import_seconds": round(imported - began, 1),
        "load_seconds": round(loaded - imported, 1),
        "quantize_seconds": round(oneshot_ended - oneshot_began, 1),
        "save_seconds": round(saved - oneshot_ended, 1),
        "wall_seconds": round(saved - began, 1),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "threads": torch.get_num_threads(),
        "workarounds": workarounds,
    }
    done.write_text(json.dumps(timings, indent=1))
    log(f"llm-compressor: oneshot {timings['quantize_seconds']:.1f} s, wall "
        f"{timings['wall_seconds']:.1f} s")
    del model
    return {**timings, "reused": False}, out_dir


# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", choices=sorted(PAIRS),
                        default="gptq-w4a16-g64")
    parser.add_argument("--engine", type=pathlib.Path,
                        default=ROOT / "build/worker/engine/cli/quantd-engine")
    parser.add_argument("--data-dir", type=pathlib.Path,
                        default=ROOT.parent / "shared/data/wikitext-2")
    parser.add_argument("--method", help="quantd's method string (a recipe "
                        "such as smoothquant+gptq too); default: the pair's")
    parser.add_argument("--method-params",
                        help="quantd's method_params as JSON; default: the "
                        "pair's")
    parser.add_argument("--scheme", help="quantd's scheme as JSON; default: "
                        "the pair's")
    parser.add_argument("--only", choices=("both", "quantd", "llmcompressor"),
                        default="both")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-samples", type=int, default=4)
    parser.add_argument("--calib-seq-len", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--eval-seq-len", type=int, default=512)
    parser.add_argument("--eval-max-tokens", type=int, default=2048)
    parser.add_argument("--long-eval-tokens", type=int, default=0,
                        help="also measure every model with transformers on "
                        "this many tokens (the first windows of "
                        "wiki.test.raw), window by window, and give the "
                        "ratio of the two tools with ±2 standard errors of "
                        "the paired per-window difference: 2048 tokens are "
                        "four windows, too few to rank two GPTQ runs")
    parser.add_argument("--work-dir", type=pathlib.Path)
    parser.add_argument("--reuse", action="store_true",
                        help="keep a finished FP export, quantd job or "
                        "llm-compressor output found in the work dir")
    parser.add_argument("--keep-dense", action="store_true")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    pair = PAIRS[args.pair]
    args.work_dir = (args.work_dir or
                     ROOT / "build/bench-llmcompressor" / args.pair).resolve()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.data_dir = args.data_dir.resolve()
    # llm-compressor's log (per-Linear GPTQ errors and times, as JSON lines)
    # to a file; only its errors on the console.
    os.environ.setdefault("LLM_COMPRESSOR_LOG_LEVEL", "ERROR")
    os.environ.setdefault("LLM_COMPRESSOR_LOG_FILE",
                          str(args.work_dir / "llmcompressor.log"))
    os.environ.setdefault("LLM_COMPRESSOR_LOG_FILE_LEVEL", "INFO")

    import torch
    torch.set_num_threads(args.threads)
    generator = MT19937_64(5489)
    for _ in range(9999):
        generator()
    assert generator() == 9981545732273789042, "mt19937_64 is wrong"
    for path in (GGUF, args.data_dir / "wiki.valid.tokens",
                 args.data_dir / "wiki.test.raw"):
        if not path.exists():
            raise SystemExit(f"{rel(path)} missing (scripts/bootstrap)")
    if not args.engine.exists():
        raise SystemExit(f"{rel(args.engine)} missing: build the target "
                         "quantd-engine")
    # One build for the whole run, even if the tree is rebuilt meanwhile.
    engine = args.work_dir / "quantd-engine"
    shutil.copy2(args.engine, engine)
    version = subprocess.run([str(engine), "version"], capture_output=True,
                             text=True).stdout.strip()

    began = time.monotonic()
    out = {
        "pair": args.pair,
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor()
                    or platform.machine(), "threads": args.threads,
                    "load_average_start": load_average()},
        "model": "SmolLM2-135M-Instruct; FP = the dequantized Q4_1 GGUF "
                 "(" + rel(GGUF) + ")",
        "protocol": {
            "calibration": {**calibration_spec(args),
                            "dataset": "wiki.valid.tokens"},
            "evaluation": {"seq_len": args.eval_seq_len,
                           "max_tokens": args.eval_max_tokens,
                           "long_eval_tokens": args.long_eval_tokens,
                           "dataset": "wiki.test.raw"}},
        "engine": {"binary": rel(args.engine), "version": version,
                   "built": datetime.datetime.fromtimestamp(
                       args.engine.stat().st_mtime).isoformat(
                           timespec="seconds"),
                   "commit": subprocess.run(
                       ["git", "-C", str(ROOT), "rev-parse", "--short",
                        "HEAD"], capture_output=True,
                       text=True).stdout.strip()},
        "llmcompressor_recipe": pair["recipe"],
    }

    log("FP model: the engine's HF_SAFETENSORS export")
    fp_dir, fp_wall = fp_export(args, engine)
    args.fp_dir = fp_dir
    out["fp_export_seconds"] = None if fp_wall is None else round(fp_wall, 1)

    tokenizer = smollm2_tokenizer()
    calibration, starts = draw_calibration(
        tokenizer, args.data_dir / "wiki.valid.tokens", args.n_samples,
        args.calib_seq_len, args.seed)
    windows = evaluation_windows(tokenizer, args.data_dir / "wiki.test.raw",
                                 args.eval_seq_len, args.eval_max_tokens)
    args.long_windows = evaluation_windows(
        tokenizer, args.data_dir / "wiki.test.raw", args.eval_seq_len,
        args.long_eval_tokens) if args.long_eval_tokens else None
    log(f"calibration starts {starts}; checking them against the engine")
    out["calibration_check"] = check_calibration_ids(
        args, engine, calibration, fp_dir, args.work_dir / "probe")
    out["calibration_check"]["starts"] = starts
    log(f"calibration ids match the engine's: {out['calibration_check']}")
    np_ids = calibration.numpy()
    np_ids.astype("<i4").tofile(args.work_dir / "calibration_ids.bin")

    compressed = {}
    if args.only in ("both", "quantd"):
        out["quantd"], compressed["quantd"] = run_quantd(args, engine, pair)
    if args.only in ("both", "llmcompressor"):
        out["llmcompressor"], compressed["llmcompressor"] = \
            run_llmcompressor(args, pair, calibration)

    log("evaluation: FP")
    out["fp"] = evaluate_directory(args, engine, fp_dir, windows, False, "fp",
                                   compressed=False)
    for tool, directory in compressed.items():
        log(f"evaluation: {tool}")
        out[tool].update(evaluate_directory(
            args, engine, directory, windows, pair["activations"], tool))

    if "quantd" in out and "llmcompressor" in out:
        q, l = out["quantd"], out["llmcompressor"]
        key = "transformers_ppl" if pair["activations"] else "engine_eval_ppl"
        out["ratios"] = {
            "ppl_quantd_over_llmcompressor": q[key] / l[key],
            "ppl_evaluator": key,
            "quantize_seconds_quantd_over_llmcompressor":
                q["quantize_seconds"] / l["quantize_seconds"],
            "wall_seconds_quantd_over_llmcompressor":
                q["wall_seconds"] / l["wall_seconds"],
            "wall_without_evaluation_quantd_over_llmcompressor":
                q["wall_without_evaluation_seconds"] / l["wall_seconds"],
        }
        if "long_eval_window_losses" in q and "long_eval_window_losses" in l:
            out["ratios"]["long_eval_ppl_quantd_over_llmcompressor"] = \
                paired_ratio(q["long_eval_window_losses"],
                             l["long_eval_window_losses"])
    out["machine"]["load_average_end"] = load_average()
    out["total_seconds"] = round(time.monotonic() - began, 1)

    print(markdown(out, pair))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


def markdown(out, pair):
    activations = pair["activations"]
    rows = [("FP (dequantized Q4_1 GGUF)", out["fp"], None)]
    for tool, name in (("quantd", "quantd"), ("llmcompressor",
                                              "llm-compressor")):
        if tool in out:
            rows.append((name, out[tool], tool))
    lines = [f"{out['pair']}: calibration {out['protocol']['calibration']}, "
             f"evaluation {out['protocol']['evaluation']}", "",
             "| | ppl (quantd-engine eval) | ppl (transformers) | "
             "ppl (quantd's own report) | quantize s | wall s | "
             "wall s without evaluation | ppl on --long-eval-tokens |",
             "|---|---|---|---|---|---|---|---|"]
    for name, figures, tool in rows:
        def cell(key, digits=4):
            value = figures.get(key)
            return "" if value is None else f"{value:.{digits}f}"
        own = ""
        if tool == "quantd":
            own = f"{figures['own_quantized_ppl']:.4f}"
        elif tool is None and "quantd" in out:
            own = f"{out['quantd']['own_fp_ppl']:.4f}"
        wall_no_eval = figures.get("wall_without_evaluation_seconds",
                                   figures.get("wall_seconds")
                                   if tool == "llmcompressor" else None)
        lines.append(
            f"| {name} | {'n/a (activations)' if activations and tool else cell('engine_eval_ppl')} "
            f"| {cell('transformers_ppl')} | {own} | "
            f"{cell('quantize_seconds', 1)} | {cell('wall_seconds', 1)} | "
            f"{'' if wall_no_eval is None else f'{wall_no_eval:.1f}'} | "
            f"{cell('long_eval_ppl')} |")
    if "ratios" in out:
        lines += ["", "ratios quantd / llm-compressor: " + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else
            f"{k} {v['ratio']:.4f} [{v['low']:.4f}, {v['high']:.4f}] over "
            f"{v['windows']} windows" if isinstance(v, dict) else f"{k} {v}"
            for k, v in out["ratios"].items())]
    lines += ["", f"load average start {out['machine']['load_average_start']}"
              f", end {out['machine']['load_average_end']}; "
              f"total {out['total_seconds']:.0f} s"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
