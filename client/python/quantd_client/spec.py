"""Builds a quantd.v1.JobSpec from keyword arguments, mirroring the flags of
`quantctl submit`, so simple pipelines need not touch protobuf messages, and
derives the idempotency key of a spec."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from google.protobuf import json_format

from quantd_client.v1 import types_pb2

_GRANULARITY = {
    "tensor": types_pb2.GRANULARITY_PER_TENSOR,
    "channel": types_pb2.GRANULARITY_PER_CHANNEL,
    "token": types_pb2.GRANULARITY_PER_TOKEN,
    "group": types_pb2.GRANULARITY_PER_GROUP,
}
#: Export format names, as `quantctl submit --export` spells them
#: (contract/export_format.h's cli_name).
_EXPORT = {
    "hf": types_pb2.EXPORT_FORMAT_HF_SAFETENSORS,
    "packed": types_pb2.EXPORT_FORMAT_PACKED_INT,
    "compressed-tensors": types_pb2.EXPORT_FORMAT_COMPRESSED_TENSORS,
    "gguf": types_pb2.EXPORT_FORMAT_GGUF,
}


def data_ref(source: str) -> types_pb2.DataRef:
    """A DataRef from "sha256:<hex>", "file:///abs" or a local path (made
    absolute and turned into a file:// URI)."""
    ref = types_pb2.DataRef()
    if source.startswith("sha256:"):
        ref.blob = source
    elif source.startswith("file://"):
        ref.uri = source
    elif "://" in source:
        raise ValueError(f"unsupported URI {source!r}: use a path, file:// or sha256:")
    else:
        ref.uri = "file://" + os.path.abspath(source)
    return ref


def _tensor_quant(bits: Optional[int], granularity: Optional[str],
                  group_size: Optional[int], symmetric: bool,
                  dynamic: bool) -> types_pb2.TensorQuant:
    quant = types_pb2.TensorQuant(enabled=True, symmetric=symmetric,
                                  dynamic=dynamic)
    if bits is not None:
        quant.bits = bits
    if group_size is not None:
        quant.group_size = group_size
        granularity = granularity or "group"
    if granularity is not None:
        quant.granularity = _GRANULARITY[granularity]
    return quant


def make_spec(model: str, method: Union[str, Sequence[str]],
              scheme: Optional[str] = None, *,
              w_bits: Optional[int] = None, a_bits: Optional[int] = None,
              w_granularity: Optional[str] = None,
              a_granularity: Optional[str] = None,
              group_size: Optional[int] = None, symmetric: bool = False,
              dynamic: bool = False, calib_data: Optional[str] = None,
              samples: Optional[int] = None, seq_len: Optional[int] = None,
              seed: Optional[int] = None, eval_data: Optional[str] = None,
              eval_seq_len: Optional[int] = None,
              max_tokens: Optional[int] = None, skip_eval: bool = False,
              params: Optional[Mapping[str, Any]] = None,
              labels: Optional[Mapping[str, str]] = None,
              priority: Optional[int] = None,
              export: Optional[Iterable[str]] = None,
              device: Optional[str] = None,
              target: Optional[Mapping[str, Any]] = None) -> types_pb2.JobSpec:
    """A JobSpec; `model`, `calib_data` and `eval_data` take a path, a
    file:// URI or a sha256: blob reference; `export` takes "hf", "packed",
    "compressed-tensors" and "gguf" (default: hf and packed). `method` is a
    method name, or a recipe: its stages as a list (["osplus", "gptq"]) or
    joined by "+" ("osplus+gptq"), with `params` holding one dict per stage
    under its name plus the common ones ({"batch_size": 4, "gptq":
    {"dampening_percent": 0.05}}). The server validates the rest and names
    the offending field in InvalidArgumentError.field (`export_formats` for a
    format that cannot hold the scheme or the model,
    `method_params.gptq.block_size` for a stage's parameter).

    `target` makes a job that meets an accuracy target (docs/TARGETS.md):
    {"max_perplexity_increase": 0.02} (decoders) or {"min_cosine": 0.99}
    (encoders), and "fallbacks": a list of {"method": ..., "scheme": ...,
    "params": ...} tried in order after `method` and `scheme` when they
    miss it (scheme and params optional; the job's scheme by default)."""
    spec = types_pb2.JobSpec(method=_method_name(method))
    spec.model.CopyFrom(data_ref(model))
    if scheme:
        spec.scheme.preset = scheme
    if w_bits is not None or w_granularity or group_size is not None or symmetric:
        spec.scheme.weights.CopyFrom(_tensor_quant(
            w_bits, w_granularity, group_size, symmetric, False))
    if a_bits is not None or a_granularity or dynamic:
        spec.scheme.activations.CopyFrom(_tensor_quant(
            a_bits, a_granularity, None, symmetric, dynamic))
    _fill_data(spec, calib_data, samples, seq_len, seed, eval_data,
               eval_seq_len, max_tokens, skip_eval)
    if params:
        json_format.Parse(json.dumps(dict(params)), spec.method_params)
    for key, value in (labels or {}).items():
        spec.labels[key] = value
    if priority is not None:
        spec.priority = priority
    for name in export or ():
        spec.export_formats.append(_EXPORT[name])
    if device:
        spec.resources.device = device
    if target is not None:
        spec.target.CopyFrom(_target(target))
    return spec


def _method_name(method: Union[str, Sequence[str]]) -> str:
    """A method name, or a recipe's stages joined by "+"."""
    return method if isinstance(method, str) else "+".join(method)


def _target(target: Mapping[str, Any]) -> types_pb2.AccuracyTarget:
    unknown = set(target) - {"max_perplexity_increase", "min_cosine",
                             "fallbacks"}
    if unknown:
        raise ValueError(f"target: unknown keys {sorted(unknown)}")
    out = types_pb2.AccuracyTarget(
        max_perplexity_increase=target.get("max_perplexity_increase", 0.0),
        min_cosine=target.get("min_cosine", 0.0))
    for index, fallback in enumerate(target.get("fallbacks", ())):
        unknown = set(fallback) - {"method", "scheme", "params"}
        if unknown or "method" not in fallback:
            raise ValueError(f"target.fallbacks[{index}]: needs 'method', "
                             f"takes 'scheme' and 'params'")
        candidate = out.fallbacks.add(method=_method_name(fallback["method"]))
        if fallback.get("scheme"):
            candidate.scheme.preset = fallback["scheme"]
        if fallback.get("params"):
            json_format.Parse(json.dumps(dict(fallback["params"])),
                              candidate.method_params)
    return out


def _fill_data(spec: types_pb2.JobSpec, calib_data, samples, seq_len, seed,
               eval_data, eval_seq_len, max_tokens, skip_eval) -> None:
    if calib_data:
        spec.calibration.dataset.CopyFrom(data_ref(calib_data))
    if samples is not None:
        spec.calibration.n_samples = samples
    if seq_len is not None:
        spec.calibration.seq_len = seq_len
    if seed is not None:
        spec.calibration.seed = seed
    if eval_data:
        spec.evaluation.dataset.CopyFrom(data_ref(eval_data))
    if eval_seq_len is not None:
        spec.evaluation.seq_len = eval_seq_len
    if max_tokens is not None:
        spec.evaluation.max_tokens = max_tokens
    if skip_eval:
        spec.evaluation.skip = True


def request_id_for(spec: types_pb2.JobSpec) -> str:
    """The request id that makes a submit idempotent: "spec-" and the
    sha256 of the spec's deterministic serialization. Submitting the same
    spec again returns the job of the first submit (per tenant); give your
    own request id (a pipeline run id, say) for a new job of the same spec."""
    encoded = spec.SerializeToString(deterministic=True)
    return "spec-" + hashlib.sha256(encoded).hexdigest()
