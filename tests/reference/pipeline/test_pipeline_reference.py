"""A real `quantd-engine run` job checked against independent references.

One OS+ W8A8 job on SmolLM2-135M-Instruct (GGUF) at a small budget, then:

  * DIR/model (the transformed FP model, HF layout) loads in Python
    transformers (AutoModelForCausalLM.from_pretrained, float32, eager
    attention) and its WikiText-2 perplexity equals the original GGUF's
    (loaded by transformers' own GGUF functions) within 0.1 %: OS+'s
    channel-wise scales, folded into the RMSNorm weights and the consumer
    columns, leave the FP function unchanged; the transformed weights must
    actually differ from the original ones, or the check would be vacuous;
  * the engine's reported FP perplexity equals transformers' perplexity of
    the original model on the same windows within 0.1 %;
  * DIR/packed, read with numpy from docs/formats/packed-weights.md alone:
    quant_config.json lists every Linear of every block, the codes lie on
    each layer's grid, the stored steps are the MinMax steps of the
    transformed weights (docs/QUANTIZERS.md §1.1), the codes are the fake
    quantization of those weights, and the float tensors are the
    transformed model's;
  * the quantized model rebuilt in transformers from DIR/packed alone
    (dequantized weights, plus the per-token activation quantizers that
    quant_config.json describes, as forward pre-hooks on the Linear
    layers) gives the engine's quantized perplexity within 0.01 %.

Token ids: tests/reference/tokenizer/smollm2_reference.py (SmolLM2's real
tokenizer rebuilt from the GGUF; transformers' GGUF converter lacks the
"smollm" pre-tokenizer). The windows follow docs/EVALUATION.md and
worker/engine/eval/perplexity.h: the whole of wiki.test.raw (CRLF and lone
CR -> LF) tokenized once without special tokens (SmolLM2 adds no BOS), the
first floor(max_tokens / L) non-overlapping windows of L tokens, loss_i =
mean CE over L - 1 shifted targets, ppl = exp(mean loss_i).

Environment: QUANTD_BINARY_DIR (set by ctest) locates
worker/engine/cli/quantd-engine, or QUANTD_ENGINE names the binary;
QUANTD_SOURCE_DIR the repository; QUANTD_DATA_DIR the datasets (default
<repo>/../shared/data/wikitext-2); QUANTD_TEST_THREADS the engine's
--threads (default 2); QUANTD_PIPELINE_REFERENCE_DIR, if set, the job's
work dir (kept). A missing binary, model or dataset fails the test.
"""

import json
import os
import pathlib
import shutil
import sys

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from engine_job import DATA_DIR, GGUF, ROOT, THREADS  # noqa: E402
import engine_job  # noqa: E402
import transformers_eval  # noqa: E402

sys.path.insert(0, str(ROOT / "tests/reference/tokenizer"))
import smollm2_reference  # noqa: E402

SEQ_LEN = 512
MAX_TOKENS = 2048
# Without the up->down pair (on by default for per-channel weights): the
# codes test below checks that every Linear's step is the MinMax of its
# transformed weight, and the pair instead folds its scale into up_proj's
# already chosen steps (rows of Δ / s, codes chosen on W with Δ), which
# equals the MinMax only up to float rounding.
SPEC = {
    "model": {"uri": GGUF.as_uri()},
    "method": "osplus",
    "scheme": {"preset": "w8a8"},
    "method_params": {"search_tokens": 128, "up_down": False},
    "calibration": {"n_samples": 4, "seq_len": 128, "seed": "7"},
    "evaluation": {"seq_len": SEQ_LEN, "max_tokens": str(MAX_TOKENS)},
}
LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
           "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
           "mlp.down_proj")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Runs the job once: (out dir, result event, report.json); removes its
    1.5 GB of artifacts afterwards unless they are kept."""
    # QUANTD_PIPELINE_REFERENCE_DIR keeps the job (for debugging): a rerun
    # there resumes from the engine's own checkpoint.
    kept = os.environ.get("QUANTD_PIPELINE_REFERENCE_DIR")
    work = (pathlib.Path(kept) if kept else
            tmp_path_factory.mktemp("pipeline"))
    work.mkdir(parents=True, exist_ok=True)
    out = work / "out"
    result = engine_job.run_job(SPEC, work / "spec.json", out)
    report = json.loads((out / "report.json").read_text())
    yield out, result, report
    if not kept:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def windows():
    """[n, L] int64 token ids of the evaluation windows."""
    tokenizer = smollm2_reference.build_tokenizer(
        smollm2_reference.read_metadata(str(GGUF)))
    text = (DATA_DIR / "wiki.test.raw").read_bytes().decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    count = MAX_TOKENS // SEQ_LEN
    assert len(ids) >= count * SEQ_LEN
    return torch.tensor(ids[:count * SEQ_LEN], dtype=torch.int64).view(
        count, SEQ_LEN)


def load_original():
    """The GGUF, dequantized to fp32 by transformers' own GGUF functions
    (as tests/reference/export/smollm2_export.py does; from_pretrained's
    GGUF path needs the accelerate package)."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    config = AutoConfig.from_pretrained(str(GGUF.parent), gguf_file=GGUF.name)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_gguf_checkpoint(str(GGUF), return_tensors=True,
                                   model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (
        missing, unexpected)
    model.tie_weights()
    return model.float().eval()


@pytest.fixture(scope="module")
def original():
    return load_original()


@pytest.fixture(scope="module")
def transformed(job):
    from transformers import AutoModelForCausalLM
    out, _, _ = job
    return AutoModelForCausalLM.from_pretrained(
        str(out / "model"), attn_implementation="eager",
        dtype=torch.float32).eval()


def perplexity(model, windows):
    return transformers_eval.perplexity(model, windows, THREADS)


@pytest.fixture(scope="module")
def perplexities(original, transformed, windows):
    return {"original": perplexity(original, windows),
            "transformed": perplexity(transformed, windows)}


@pytest.fixture(scope="module")
def packed(job):
    """(quant_config.json, {name: numpy array}) of DIR/packed."""
    out, _, _ = job
    config = json.loads((out / "packed/quant_config.json").read_text())
    weights = out / "packed" / config["weights"]
    tensors = {}
    if weights.name.endswith(".index.json"):
        index = json.loads(weights.read_text())
        for shard in sorted(set(index["weight_map"].values())):
            tensors.update(load_file(str(out / "packed" / shard)))
    else:
        tensors.update(load_file(str(weights)))
    return config, tensors


@pytest.fixture(scope="module")
def transformed_tensors(job):
    out, _, _ = job
    return load_file(str(out / "model/model.safetensors"))


def test_job_reports_its_evaluation(job):
    _, result, report = job
    assert result["metric"] == "perplexity"
    assert int(result["eval_tokens"]) == MAX_TOKENS
    assert int(result["eval_seq_len"]) == SEQ_LEN
    assert report["result"]["fp_value"] == pytest.approx(result["fp_value"])
    assert report["hf_model_weights"] == "transformed_fp"
    # W8A8 on 2048 tokens: quantized within a few percent of FP.
    assert result["quantized_value"] == pytest.approx(result["fp_value"],
                                                      rel=0.05)


def test_transformed_weights_differ_from_the_original(original,
                                                      transformed):
    """OS+ folded its scales: otherwise the next test proves nothing."""
    theirs = original.state_dict()
    ours = transformed.state_dict()
    assert set(ours) == set(theirs)
    norm_changes = []
    for i in range(original.config.num_hidden_layers):
        for norm in ("input_layernorm", "post_attention_layernorm"):
            name = f"model.layers.{i}.{norm}.weight"
            change = ((ours[name] - theirs[name]).abs().max() /
                      theirs[name].abs().max())
            norm_changes.append(float(change))
    assert max(norm_changes) > 1e-2, norm_changes
    # A scaled norm is compensated in its consumers' columns.
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(ours[name], theirs[name])
    # Embeddings and the final norm are outside every block.
    for name in ("model.embed_tokens.weight", "model.norm.weight"):
        assert torch.equal(ours[name], theirs[name]), name


def test_transformed_model_keeps_the_original_perplexity(perplexities):
    ratio = perplexities["transformed"] / perplexities["original"]
    print(f"transformers ppl: original {perplexities['original']:.6f}, "
          f"transformed {perplexities['transformed']:.6f}, "
          f"ratio - 1 = {ratio - 1:.3e}")
    assert abs(ratio - 1) < 1e-3


def test_engine_fp_perplexity_matches_transformers(job, perplexities):
    _, result, _ = job
    engine = float(result["fp_value"])
    reference = perplexities["original"]
    print(f"engine fp ppl {engine:.6f}, transformers {reference:.6f}, "
          f"relative diff {engine / reference - 1:.3e}")
    assert engine == pytest.approx(reference, rel=1e-3)


def test_quant_config_lists_every_linear_of_every_block(packed, original):
    config, tensors = packed
    blocks = original.config.num_hidden_layers
    expected = {f"model.layers.{i}.{linear}"
                for i in range(blocks) for linear in LINEARS}
    assert set(config["layers"]) == expected
    for name in expected:
        layer = config["layers"][name]
        assert name + ".weight" not in tensors
        assert layer["config"]["bits"] == 8
        assert layer["config"]["granularity"] == "per_channel"
        assert layer["bit_exact"] is True


def codes_of(layer, tensors):
    """Integer codes [out, in] (int16) per docs/formats/packed-weights.md."""
    spec = layer["codes"]
    stored = tensors[spec["tensor"]]
    assert list(stored.shape) == spec["shape"]
    _, columns = layer["weight_shape"]
    if spec["packing"] == "none":
        return stored.astype(np.int16)
    low, high = stored & 0x0F, stored >> 4
    codes = np.stack([low, high], -1).reshape(stored.shape[0], -1)[:, :columns]
    codes = codes.astype(np.int16)
    return np.where(codes >= 8, codes - 16, codes) if (
        spec["dtype"] == "int4") else codes


def minmax_steps(weight, layer):
    """Per-row (step, zero point) of docs/QUANTIZERS.md §1.1, float32."""
    quantizer = layer["config"]
    assert quantizer["granularity"] == "per_channel"
    assert quantizer["observer"] == "minmax" and quantizer["include_zero"]
    low = np.minimum(weight.min(axis=1), 0).astype(np.float32)
    high = np.maximum(weight.max(axis=1), 0).astype(np.float32)
    qmin, qmax = layer["qmin"], layer["qmax"]
    eps = np.finfo(np.float32).eps
    if quantizer["symmetric"]:
        assert quantizer["grid"] == "os_plus_narrow"
        step = np.maximum(np.maximum(-low, high) / np.float32(qmax), eps)
        return step.astype(np.float32), np.zeros_like(step, dtype=np.int32)
    step = np.maximum((high - low) / np.float32(qmax - qmin), eps)
    zero = np.clip(qmin - np.round(low / step), qmin, qmax)
    return step.astype(np.float32), zero.astype(np.int32)


@pytest.mark.parametrize("block", [0, 14, 29])
def test_packed_codes_are_the_fake_quantized_transformed_weights(
        packed, transformed_tensors, block):
    config, tensors = packed
    for linear in LINEARS:
        name = f"model.layers.{block}.{linear}"
        layer = config["layers"][name]
        weight = transformed_tensors[name + ".weight"].astype(np.float32)
        assert list(weight.shape) == layer["weight_shape"]
        codes = codes_of(layer, tensors)
        qmin, qmax = layer["qmin"], layer["qmax"]
        assert codes.min() >= qmin and codes.max() <= qmax, name
        scales = tensors[layer["scales"]["tensor"]].astype(np.float32)
        zero_points = tensors[layer["zero_points"]["tensor"]]
        step, zero = minmax_steps(weight, layer)
        np.testing.assert_allclose(scales, step, rtol=1e-6, err_msg=name)
        np.testing.assert_array_equal(zero_points, zero, err_msg=name)
        # q = clamp(round_half_even(w / step) + zp, qmin, qmax) in float32.
        scale = scales.reshape(-1, 1)
        zero_point = zero_points.astype(np.float32).reshape(-1, 1)
        expected = np.clip(np.round(weight / scale) + zero_point, qmin, qmax)
        mismatches = int((expected != codes).sum())
        assert mismatches == 0, f"{name}: {mismatches} codes differ"
        dequantized = (codes.astype(np.float32) - zero_point) * scale
        fake = (expected - zero_point) * scale
        np.testing.assert_array_equal(dequantized, fake, err_msg=name)
        # MinMax: each row's largest magnitude lands on the grid's end.
        if layer["config"]["symmetric"]:
            assert np.all(np.abs(codes).max(axis=1) == qmax), name
        else:
            assert np.all(codes.max(axis=1) == qmax), name


def test_packed_float_tensors_are_the_transformed_models(
        packed, transformed_tensors):
    config, tensors = packed
    quantized = set(config["layers"])
    expected = {name for name in transformed_tensors
                if name.removesuffix(".weight") not in quantized}
    floats = {name for name in tensors
              if not name.endswith((".qweight", ".scales", ".zero_points",
                                    ".input_shift", ".input_scale"))}
    assert floats == expected
    assert config["float_tensor_count"] == len(expected)
    for name in expected:
        np.testing.assert_array_equal(tensors[name], transformed_tensors[name],
                                      err_msg=name)


# Activation sites (worker/engine/model/block.h) -> the Linear layers whose
# input they quantize, in a LLaMA block.
SITE_CONSUMERS = {
    "attn_in": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "attn_out_in": ("self_attn.o_proj",),
    "mlp_in": ("mlp.gate_proj", "mlp.up_proj"),
    "mlp_out_in": ("mlp.down_proj",),
}


def dequantize(layer, tensors):
    """w = (float32(q) - float32(zp)) * scale per granularity row."""
    codes = codes_of(layer, tensors).astype(np.float32)
    scales = tensors[layer["scales"]["tensor"]].astype(np.float32)
    zero_points = tensors[layer["zero_points"]["tensor"]].astype(np.float32)
    rows = codes.reshape(scales.size, -1)
    weight = (rows - zero_points.reshape(-1, 1)) * scales.reshape(-1, 1)
    return weight.reshape(layer["weight_shape"])


def dynamic_fake_quantize(x, quantizer):
    """Per-token dynamic fake quantization, docs/QUANTIZERS.md §1.1 and §2:
    one (step, zero point) per token from its min/max over the channels."""
    assert quantizer["granularity"] == "per_token" and quantizer["dynamic"]
    assert quantizer["include_zero"] and quantizer["bits"] <= 8
    bits = quantizer["bits"]
    values = x.float()
    low = values.amin(-1, keepdim=True).clamp(max=0)
    high = values.amax(-1, keepdim=True).clamp(min=0)
    eps = torch.finfo(torch.float32).eps
    if quantizer["symmetric"]:
        assert quantizer["grid"] == "os_plus_narrow"
        qmax = 2 ** (bits - 1) - 1
        qmin = -qmax
        step = (torch.maximum(-low, high) / qmax).clamp(min=eps)
        zero = torch.zeros_like(step)
    else:
        qmin, qmax = 0, 2 ** bits - 1
        step = ((high - low) / (qmax - qmin)).clamp(min=eps)
        zero = (qmin - torch.round(low / step)).clamp(qmin, qmax)
    codes = (torch.round(values / step) + zero).clamp(qmin, qmax)
    return ((codes - zero) * step).to(x.dtype)


@pytest.fixture(scope="module")
def rebuilt_from_packed(job, packed, windows):
    """The engine's quantized model rebuilt from DIR/packed alone.

    Attention is SDPA, the kernel the engine runs (at::
    scaled_dot_product_attention): eager attention differs from it by about
    3e-6 in the logits, and the 8-bit activation rounding amplifies that to
    5e-4 of perplexity (measured), which would hide real discrepancies."""
    from transformers import AutoModelForCausalLM
    out, _, _ = job
    config, tensors = packed
    model = AutoModelForCausalLM.from_pretrained(
        str(out / "model"), attn_implementation="sdpa",
        dtype=torch.float32).eval()
    state = model.state_dict()
    for name, value in tensors.items():
        if name in state:
            state[name].copy_(torch.from_numpy(value))
    for name, layer in config["layers"].items():
        state[name + ".weight"].copy_(
            torch.from_numpy(dequantize(layer, tensors)))
    modules = dict(model.named_modules())
    for site, entry in config["activations"].items():
        assert not entry["static"], f"{site}: only dynamic sites expected"
        assert "tensors" not in entry or not entry["tensors"], site
        block, point = site.rsplit(".", 1)
        for linear in SITE_CONSUMERS[point]:
            modules[f"{block}.{linear}"].register_forward_pre_hook(
                lambda _, args, q=entry["config"]: (
                    dynamic_fake_quantize(args[0], q),))
    return perplexity(model, windows)


def test_packed_weights_reproduce_the_engines_quantized_perplexity(
        job, rebuilt_from_packed):
    _, result, _ = job
    engine = float(result["quantized_value"])
    print(f"engine quantized ppl {engine:.6f}, rebuilt from packed/ "
          f"{rebuilt_from_packed:.6f}, relative diff "
          f"{rebuilt_from_packed / engine - 1:.3e}")
    # Measured 1.3e-7 (2 threads, SmolLM2, this spec).
    assert rebuilt_from_packed == pytest.approx(engine, rel=1e-4)
