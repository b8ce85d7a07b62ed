"""The deployable exports of real `quantd-engine run` jobs, read by the
libraries that serve them (docs/EXPORT.md), on SmolLM2-135M-Instruct
(GGUF; its FP baseline is the dequantized Q4_1 file):

  * compressed-tensors, W4A16 (RTN w4a16-g32, asymmetric: pack-quantized
    with packed zero points): transformers (with the PyPI compressed-tensors
    library) loads the directory; its decompressed weights equal our
    dequantized codes (DIR/packed) exactly; its perplexity on the job's
    evaluation windows equals the job's quantized perplexity within 0.1 %;
    the tokenizer written with it tokenizes as the source model;
  * compressed-tensors, W8A8 (SmoothQuant w8a8: its scales folded into the
    norms and weights): int-quantized int8 weights equal our codes exactly,
    the config says dynamic per-token symmetric int8 activations, and the
    loaded model runs (its perplexity is printed: transformers' simulated
    activation quantizer rounds absmax/127.5, ours and vLLM's absmax/127);
  * compressed-tensors, 8-bit symmetric weight-only (w8a16-g32 with
    scheme.weights.symmetric): loads in transformers' compressed layout too;
  * GGUF Q4_1 (the W4A16 job) and Q8_0 (the 8-bit job): the gguf package
    reads the tensor types and the tokenizer metadata; the weights
    transformers dequantizes from the file equal our dequantized codes up
    to the float16 rounding of the scales (bounded by the exporter's
    reported weight_max_abs_change); llama.cpp (llama-cpp-python)
    tokenizes the text as our engine does, and its perplexity over the
    same windows is within 1 % of the job's. llama.cpp quantizes
    activations to 8 bits inside its dot products, which alone moves the
    unmodified source model by +0.8 % on these windows (printed), so a
    tighter bound would test llama.cpp's arithmetic, not the export;
    `quantd-engine inspect` reads the file back;
  * the manifest lists each export with its format, specification and the
    sha256 of every file.

Token ids: tests/reference/tokenizer/smollm2_reference.py; windows as in
tests/reference/pipeline (docs/EVALUATION.md). Environment as there:
QUANTD_BINARY_DIR or QUANTD_ENGINE, QUANTD_SOURCE_DIR, QUANTD_DATA_DIR,
QUANTD_TEST_THREADS.
"""

import hashlib
import json
import math
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from engine_job import DATA_DIR, GGUF, ROOT, THREADS  # noqa: E402
import engine_job  # noqa: E402
import transformers_eval  # noqa: E402

sys.path.insert(0, str(ROOT / "tests/reference/tokenizer"))
sys.path.insert(0, str(ROOT / "tests/reference/export"))
import packed_format  # noqa: E402
import smollm2_reference  # noqa: E402

SEQ_LEN = 256
MAX_TOKENS = 2048
BUDGET = {
    "model": {"uri": GGUF.as_uri()},
    "calibration": {"n_samples": 4, "seq_len": 128, "seed": "3"},
    "evaluation": {"seq_len": SEQ_LEN, "max_tokens": str(MAX_TOKENS)},
}
JOBS = {
    "w4a16": {"method": "rtn", "scheme": {"preset": "w4a16-g32"},
              "export_formats": ["EXPORT_FORMAT_PACKED_INT",
                                 "EXPORT_FORMAT_COMPRESSED_TENSORS",
                                 "EXPORT_FORMAT_GGUF"]},
    "w8a8": {"method": "smoothquant", "scheme": {"preset": "w8a8"},
             "export_formats": ["EXPORT_FORMAT_PACKED_INT",
                                "EXPORT_FORMAT_COMPRESSED_TENSORS"]},
    "w8a16": {"method": "rtn",
              "scheme": {"preset": "w8a16-g32",
                         "weights": {"symmetric": True}},
              "export_formats": ["EXPORT_FORMAT_PACKED_INT",
                                 "EXPORT_FORMAT_COMPRESSED_TENSORS",
                                 "EXPORT_FORMAT_GGUF"]},
}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Runs every job once: {name: (out dir, result event)}."""
    work = tmp_path_factory.mktemp("exports")
    done = {}
    for name, job in JOBS.items():
        out = work / name
        result = engine_job.run_job({**BUDGET, **job}, work / f"{name}.json",
                                    out)
        done[name] = (out, result)
    yield done
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def text():
    raw = (DATA_DIR / "wiki.test.raw").read_bytes().decode("utf-8")
    return raw.replace("\r\n", "\n").replace("\r", "\n")


@pytest.fixture(scope="module")
def windows(text):
    tokenizer = smollm2_reference.build_tokenizer(
        smollm2_reference.read_metadata(str(GGUF)))
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    count = MAX_TOKENS // SEQ_LEN
    return torch.tensor(ids[:count * SEQ_LEN], dtype=torch.int64).view(
        count, SEQ_LEN)


def perplexity(model, windows):
    return transformers_eval.perplexity(model, windows, THREADS)


def load_compressed_tensors(directory, dequantize):
    from transformers import AutoModelForCausalLM
    from transformers.utils.quantization_config import CompressedTensorsConfig
    kwargs = {}
    if dequantize:
        kwargs["quantization_config"] = CompressedTensorsConfig(
            run_compressed=False)
    return AutoModelForCausalLM.from_pretrained(
        str(directory), dtype=torch.float32, attn_implementation="eager",
        **kwargs).eval()


def assert_weights_equal_our_codes(model, out):
    config, tensors = packed_format.load_packed(str(out / "packed"))
    assert config["layers"], "no quantized layers"
    for name, layer in config["layers"].items():
        ours = packed_format.dequantize(layer, tensors)
        theirs = model.get_submodule(name).weight.detach().numpy()
        assert np.array_equal(ours, theirs), name
    return len(config["layers"])


def quantization_config(out):
    config = json.loads((out / "compressed-tensors/config.json").read_text())
    return config["quantization_config"]


def test_compressed_tensors_w4a16_loads_with_our_weights_and_perplexity(
        jobs, windows):
    out, result = jobs["w4a16"]
    qc = quantization_config(out)
    assert qc["quant_method"] == "compressed-tensors"
    assert qc["format"] == "pack-quantized"
    weights = qc["config_groups"]["group_0"]["weights"]
    assert (weights["num_bits"], weights["strategy"], weights["group_size"],
            weights["symmetric"]) == (4, "group", 32, False)
    model = load_compressed_tensors(out / "compressed-tensors", True)
    layers = assert_weights_equal_our_codes(model, out)
    assert layers == 30 * 7
    theirs = perplexity(model, windows)
    ours = float(result["quantized_value"])
    print(f"W4A16 compressed-tensors: transformers ppl {theirs:.6f}, "
          f"quantd {ours:.6f}, relative {theirs / ours - 1:+.2e}")
    assert theirs == pytest.approx(ours, rel=1e-3)


def test_compressed_tensors_w8a8_is_int8_with_dynamic_per_token_inputs(
        jobs, windows):
    out, result = jobs["w8a8"]
    qc = quantization_config(out)
    assert qc["format"] == "int-quantized"
    group = qc["config_groups"]["group_0"]
    assert group["targets"] == ["Linear"]
    assert (group["weights"]["num_bits"], group["weights"]["strategy"],
            group["weights"]["symmetric"]) == (8, "channel", True)
    inputs = group["input_activations"]
    assert (inputs["num_bits"], inputs["type"], inputs["strategy"],
            inputs["dynamic"], inputs["symmetric"]) == (
                8, "int", "token", True, True)
    assert "lm_head" in qc["ignore"]
    from safetensors.numpy import load_file
    stored = load_file(str(out / "compressed-tensors/model.safetensors"))
    name = "model.layers.0.self_attn.q_proj"
    assert stored[name + ".weight"].dtype == np.int8
    assert stored[name + ".weight_scale"].shape == (
        stored[name + ".weight"].shape[0], 1)
    model = load_compressed_tensors(out / "compressed-tensors", True)
    assert_weights_equal_our_codes(model, out)
    # SmoothQuant's scales are folded: the norms differ from the source's.
    norm = stored["model.layers.0.input_layernorm.weight"]
    source = json.loads((out / "report.json").read_text())
    assert source["method"] == "smoothquant"
    assert not np.allclose(norm, np.ones_like(norm))
    simulated = load_compressed_tensors(out / "compressed-tensors", False)
    theirs = perplexity(simulated, windows)
    ours = float(result["quantized_value"])
    print(f"W8A8 compressed-tensors (transformers' simulated activations): "
          f"ppl {theirs:.6f}, quantd {ours:.6f}, "
          f"relative {theirs / ours - 1:+.2e}")
    assert theirs == pytest.approx(ours, rel=0.02)


def test_compressed_tensors_symmetric_8bit_loads_compressed(jobs, windows):
    out, result = jobs["w8a16"]
    qc = quantization_config(out)
    assert qc["format"] == "pack-quantized"
    assert qc["config_groups"]["group_0"]["weights"]["symmetric"] is True
    model = load_compressed_tensors(out / "compressed-tensors", False)
    theirs = perplexity(model, windows)
    ours = float(result["quantized_value"])
    print(f"W8A16 compressed-tensors (compressed layout): ppl {theirs:.6f}, "
          f"quantd {ours:.6f}, relative {theirs / ours - 1:+.2e}")
    assert theirs == pytest.approx(ours, rel=1e-3)


def test_exported_tokenizer_tokenizes_as_the_source(jobs, text, windows):
    from transformers import AutoTokenizer
    out, _ = jobs["w4a16"]
    tokenizer = AutoTokenizer.from_pretrained(str(out / "compressed-tensors"))
    ids = tokenizer(text[:20000], add_special_tokens=False).input_ids
    count = min(len(ids) - 1, windows.numel())
    assert ids[:count] == windows.flatten()[:count].tolist()
    assert tokenizer.chat_template, "the chat template did not travel"


def gguf_weights(path):
    """The GGUF's tensors dequantized by transformers' own GGUF functions,
    under HF names with llama.cpp's rotary permutation undone."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return load_gguf_checkpoint(str(path), return_tensors=True,
                                model_to_load=model)["tensors"]


def llama_cpp_perplexity(path, windows):
    from llama_cpp import Llama
    llm = Llama(model_path=str(path), n_ctx=SEQ_LEN, n_batch=SEQ_LEN,
                n_ubatch=SEQ_LEN, logits_all=True, n_threads=THREADS,
                verbose=False)
    losses = []
    for window in windows.tolist():
        llm.reset()
        llm.eval(window)
        logits = np.array(llm.scores[:SEQ_LEN], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        targets = np.array(window[1:])
        losses.append(-log_probs[np.arange(SEQ_LEN - 1), targets].mean())
    return math.exp(float(np.mean(losses))), llm


@pytest.mark.parametrize("job,ggml_type", [("w4a16", "Q4_1"),
                                           ("w8a16", "Q8_0")])
def test_gguf_loads_in_llama_cpp_with_our_perplexity(jobs, windows, text,
                                                     job, ggml_type):
    import gguf
    out, result = jobs[job]
    path = out / "gguf/model.gguf"
    reader = gguf.GGUFReader(str(path))
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == ggml_type
    assert types["blk.29.ffn_down.weight"] == ggml_type
    assert types["token_embd.weight"] == "F32"
    fields = reader.fields
    assert bytes(fields["tokenizer.ggml.pre"].parts[-1]).decode() == "smollm"
    assert "tokenizer.chat_template" in fields
    # The weights are the codes the method chose; only float16 scales
    # (d, m) move them, by at most what the exporter reports.
    manifest = json.loads((out / "manifest.json").read_text())
    summary = {e["format"]: e for e in manifest["exports"]}["gguf"]
    bound = summary["weight_max_abs_change"]
    assert summary["type"] == ggml_type and bound < 1e-2
    config, tensors = packed_format.load_packed(str(out / "packed"))
    dequantized = gguf_weights(path)
    for name, layer in config["layers"].items():
        ours = packed_format.dequantize(layer, tensors)
        theirs = dequantized[name + ".weight"].float().numpy()
        assert np.abs(theirs - ours).max() <= bound * (1 + 1e-6) + 1e-9, name
    # llama.cpp's perplexity: its dot products quantize activations to 8
    # bits, which moves even the unmodified source model; printed as the
    # baseline.
    theirs, llm = llama_cpp_perplexity(path, windows)
    ours = float(result["quantized_value"])
    source, _ = llama_cpp_perplexity(GGUF, windows)
    print(f"GGUF {ggml_type}: llama.cpp ppl {theirs:.6f}, quantd "
          f"{ours:.6f}, relative {theirs / ours - 1:+.2e}; the source GGUF "
          f"in llama.cpp {source:.6f} against quantd's FP "
          f"{float(result['fp_value']):.6f}, relative "
          f"{source / float(result['fp_value']) - 1:+.2e}")
    assert theirs == pytest.approx(ours, rel=1e-2)
    sample = text[:5000]
    tokens = llm.tokenize(sample.encode(), add_bos=False, special=False)
    reference = smollm2_reference.build_tokenizer(
        smollm2_reference.read_metadata(str(GGUF)))
    assert tokens == reference.encode(sample, add_special_tokens=False).ids
    inspect = subprocess.run(
        [str(engine_job.engine_binary()), "inspect", "--model", str(path),
         "--json"],
        capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    storage = json.loads(inspect.stdout)["tensors"]["storage_types"]
    assert storage[ggml_type]["tensors"] == 30 * 7


def test_manifest_lists_every_export_with_its_sha256(jobs):
    out, _ = jobs["w4a16"]
    manifest = json.loads((out / "manifest.json").read_text())
    exports = {e["format"]: e for e in manifest["exports"]}
    assert set(exports) == {"packed", "compressed-tensors", "gguf"}
    for entry in exports.values():
        assert entry["specification"]
        assert entry["files"]
        for file in entry["files"]:
            digest = hashlib.sha256((out / file["name"]).read_bytes())
            assert digest.hexdigest() == file["sha256"], file["name"]
    assert exports["gguf"]["type"] == "Q4_1"
    assert exports["compressed-tensors"]["layout"] == "pack-quantized"
