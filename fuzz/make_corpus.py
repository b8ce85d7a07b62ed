#!/usr/bin/env python3
"""Regenerates the seed corpora of fuzz/corpus/ from real files: the
project's models (scripts/bootstrap), test fixtures, deploy/ and the specs
the integration tests submit. Seeds stay small (the whole corpus under
1 MB): big arrays of the real files are trimmed, keeping their structure.

  PYTHONPATH=build/python python3 fuzz/make_corpus.py   # needs the stubs

The output is committed; run this only to change the seeds. Files named
regression_* are inputs that once crashed a parser (see docs/SECURITY.md);
they are added by hand and this script leaves them alone."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import gguf
import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "fuzz/corpus"
MINILM = REPO / "models/all-minilm-l6-v2"
SMOLLM2 = REPO / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def write(target: str, name: str, data) -> None:
    path = OUT / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


# -- GGUF -------------------------------------------------------------------

def gguf_string(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def gguf_value(kind: int, value, item_kind: int = 0) -> bytes:
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
              7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    if kind == 8:
        return gguf_string(value)
    if kind == 9:
        body = b"".join(gguf_value(item_kind, v) for v in value)
        return struct.pack("<IQ", item_kind, len(value)) + body
    return struct.pack(scalar[kind], value)


def smollm2_fields(vocab: int):
    """SmolLM2's header fields, arrays cut to the first `vocab` tokens (and
    the merges among them)."""
    reader = gguf.GGUFReader(str(SMOLLM2))
    tokens = [bytes(reader.fields["tokenizer.ggml.tokens"].parts[i])
              for i in reader.fields["tokenizer.ggml.tokens"].data[:vocab]]
    kept = {t.decode("utf-8", "replace") for t in tokens}
    fields = []
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        kind = int(field.types[0])
        item_kind = int(field.types[1]) if len(field.types) > 1 else 0
        values = [field.parts[i] for i in field.data]
        if kind == 9 and item_kind == 8:
            value = [bytes(v) for v in values]
        elif kind == 9:
            value = [v.tolist()[0] for v in values]
        elif kind == 8:
            value = bytes(values[0])
        else:
            value = values[0].tolist()[0]
        if name == "tokenizer.ggml.tokens":
            value = tokens
        elif name == "tokenizer.ggml.token_type":
            value = value[:vocab]
        elif name == "tokenizer.ggml.merges":
            value = [m for m in value
                     if all(p in kept for p in m.decode().split(" ", 1))
                     and m.decode().replace(" ", "", 1) in kept]
        elif name.endswith("_token_id"):
            value = min(value, vocab - 1)
        elif name == "llama.vocab_size":
            value = vocab
        fields.append((name, kind, value, item_kind))
    return fields


def gguf_file(fields) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(fields))
    for name, kind, value, item_kind in fields:
        out += gguf_string(name.encode()) + struct.pack("<I", kind)
        out += gguf_value(kind, value, item_kind)
    return out


def gguf_seeds() -> None:
    trimmed = gguf_file(smollm2_fields(400))
    real_prefix = SMOLLM2.read_bytes()[:4096]
    fixture = (REPO / "tests/fixtures/io/synthetic_quants.gguf").read_bytes()
    for target in ("gguf_summary", "gguf_metadata"):
        write(target, "smollm2_trimmed.gguf", trimmed)
        write(target, "smollm2_header_prefix.gguf", real_prefix)
        write(target, "synthetic_quants.gguf", fixture)


# -- config.json --------------------------------------------------------------

def config_seeds() -> None:
    minilm = (MINILM / "config.json").read_text()
    tiny = ('{"model_type": "llama", "hidden_size": 64, "intermediate_size": '
            '128, "num_hidden_layers": 2, "vocab_size": 100}')
    llama = json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "hidden_size": 576, "intermediate_size": 1536,
        "num_hidden_layers": 30, "num_attention_heads": 9,
        "num_key_value_heads": 3, "vocab_size": 49152,
        "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
        "rope_theta": 100000, "rope_scaling": None, "hidden_act": "silu",
        "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2},
        indent=2)
    opt = json.dumps({
        "model_type": "opt", "hidden_size": 768, "ffn_dim": 3072,
        "num_hidden_layers": 12, "num_attention_heads": 12,
        "vocab_size": 50272, "max_position_embeddings": 2048,
        "do_layer_norm_before": True, "word_embed_proj_dim": 768,
        "activation_function": "relu", "enable_bias": True})
    for target in ("model_config", "hf_config"):
        write(target, "minilm_config.json", minilm)
        write(target, "smollm2_like_config.json", llama)
        write(target, "opt_config.json", opt)
        write(target, "tiny_llama_config.json", tiny)


# -- tokenizer.json -----------------------------------------------------------

def tokenizer_seeds() -> None:
    minilm = json.loads((MINILM / "tokenizer.json").read_text())
    minilm["model"]["vocab"] = {t: i for t, i in minilm["model"]["vocab"].items()
                                if i < 1200}
    write("tokenizer_json", "minilm_trimmed.json", json.dumps(minilm))
    tokens = [t for _, _, t, _ in [f for f in smollm2_fields(600)
                                   if f[0] == "tokenizer.ggml.tokens"]][0]
    merges = [f for f in smollm2_fields(600)
              if f[0] == "tokenizer.ggml.merges"][0][2]
    vocab = {t.decode("utf-8", "replace"): i for i, t in enumerate(tokens)}
    special = [{"id": i, "content": t, "special": True}
               for t, i in vocab.items() if t.startswith("<|")]
    smollm2 = {
        "model": {"type": "BPE", "vocab": vocab,
                  "merges": [m.decode() for m in merges]},
        "added_tokens": special,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False,
             "use_regex": True}]},
        "decoder": {"type": "ByteLevel"},
    }
    write("tokenizer_json", "smollm2_subset.json", json.dumps(smollm2))


# -- token files, worker configs ---------------------------------------------

def token_seeds() -> None:
    sys.path.insert(0, str(REPO / "tests/integration/security"))
    from security_harness import TOKENS, sha256_hex  # noqa: E402
    entries = {sha256_hex(token): {"tenant": tenant, "roles": roles, **extra}
               for token, (tenant, roles, extra) in TOKENS.items()}
    write("token_file", "security_tests.json",
          json.dumps({"tokens": entries}, indent=1))
    write("token_file", "deploy_tokens.yaml",
          (REPO / "deploy/tokens.yaml").read_text())
    write("token_file", "documented.yaml", yaml.safe_dump({
        "version": 1, "tokens": {sha256_hex("ci-token"): {
            "tenant": "acme", "roles": ["submit", "read"],
            "expires_at": "2027-01-01T00:00:00Z", "revoked": False,
            "note": "CI pipeline"}}}))
    write("token_file", "bearer_header.txt", "Bearer alice-token")


def worker_config_seeds() -> None:
    configmap = yaml.safe_load(
        (REPO / "deploy/kubernetes/base/quantd-configmap.yaml").read_text())
    write("worker_config", "deploy_worker.yaml",
          configmap["data"]["quantd-worker.yaml"])
    write("worker_config", "tls.yaml", yaml.safe_dump({
        "scheduler": "quantd.example.com:7070", "token": "worker-token",
        "tls": {"ca": "/etc/quantd/ca.crt", "cert": "/etc/quantd/w.crt",
                "key": "/etc/quantd/w.key", "server_name": "quantd"},
        "max-concurrent-jobs": 2, "heartbeat-seconds": 5.5}))
    write("worker_config", "flags.txt",
          "scheduler=127.0.0.1:7070\nengine-threads=4\ntls.enabled=true\n"
          "data_dir=/tmp\nkeep-failed-work-dirs=true\nlog.format=json\n")


# -- job specs ---------------------------------------------------------------

def spec_seeds() -> None:
    from quantd.v1 import types_pb2  # noqa: E402  (needs build/python)

    def spec(method="rtn", preset="w8a8", model="file://@/tiny", **kw):
        s = types_pb2.JobSpec(method=method)
        if model.startswith("sha256:"):
            s.model.blob = model
        else:
            s.model.uri = model
        if preset:
            s.scheme.preset = preset
        s.calibration.n_samples = kw.get("samples", 4)
        s.calibration.seq_len = 64
        for key, value in kw.get("labels", {}).items():
            s.labels[key] = value
        return s

    # As tests/integration/security/security_harness.spec_for submits them.
    write("job_spec", "security_rtn_w8a8.pb", spec().SerializeToString())
    s = spec("osplus", "w4a16-g64", "file://@/small.gguf")
    s.labels["fake.scenario"] = "succeed"
    s.export_formats.append(types_pb2.EXPORT_FORMAT_HF_SAFETENSORS)
    write("job_spec", "osplus_gguf_grouped.pb", s.SerializeToString())
    s = spec("smoothquant", "", "sha256:" + "a" * 64)
    s.scheme.weights.bits = 8
    s.scheme.activations.bits = 8
    s.scheme.activations.granularity = types_pb2.GRANULARITY_PER_TOKEN
    s.calibration.dataset.uri = "file://@/tiny/model.safetensors"
    s.evaluation.seq_len = 512
    s.priority = 10
    s.retry.max_attempts = 2
    s.deadline.seconds = 4_000_000_000
    write("job_spec", "smoothquant_explicit.pb", s.SerializeToString())
    s = spec("omniquant", "w4a4")
    s.scheme.weights.observer = "mse"
    s.resources.device = "cuda"
    write("job_spec", "omniquant_w4a4.pb", s.SerializeToString())


def main() -> None:
    gguf_seeds()
    config_seeds()
    tokenizer_seeds()
    token_seeds()
    worker_config_seeds()
    spec_seeds()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{OUT}: {total} bytes")
    assert total < 1_000_000, "keep the corpus under 1 MB"


if __name__ == "__main__":
    main()
