"""make_spec, request ids, the retry policy and the error mapping of
quantd_client, without a server."""

from __future__ import annotations

import grpc
import pytest

from quantd.v1 import types_pb2
from quantd_client import (InvalidArgumentError, RetryPolicy,
                           UnavailableError, make_spec, request_id_for)
from quantd_client.errors import field_of, from_rpc_error


def test_make_spec_maps_keywords_to_fields():
    spec = make_spec("/m/model.gguf", "osplus", "w8a8", samples=16, seq_len=512,
                     seed=3, eval_data="sha256:" + "a" * 64, max_tokens=4096,
                     params={"alpha": 0.5, "up_down": True},
                     labels={"team": "ml"}, priority=5, export=["packed"])
    assert spec.model.uri == "file:///m/model.gguf"
    assert spec.scheme.preset == "w8a8"
    assert not spec.scheme.HasField("weights")
    assert (spec.calibration.n_samples, spec.calibration.seq_len,
            spec.calibration.seed) == (16, 512, 3)
    assert spec.evaluation.dataset.blob == "sha256:" + "a" * 64
    assert spec.method_params["alpha"] == 0.5 and spec.method_params["up_down"] is True
    assert dict(spec.labels) == {"team": "ml"} and spec.priority == 5
    assert list(spec.export_formats) == [types_pb2.EXPORT_FORMAT_PACKED_INT]


def test_make_spec_takes_a_recipe_as_a_list_or_a_string():
    listed = make_spec("/m/model.gguf", ["osplus", "gptq"], "w8a8",
                       params={"batch_size": 4, "gptq": {"act_order": True}})
    joined = make_spec("/m/model.gguf", "osplus+gptq", "w8a8",
                       params={"batch_size": 4, "gptq": {"act_order": True}})
    assert listed == joined
    assert listed.method == "osplus+gptq"
    assert listed.method_params["gptq"]["act_order"] is True
    assert listed.method_params["batch_size"] == 4


def test_make_spec_takes_an_accuracy_target():
    spec = make_spec("/m/model.gguf", "rtn", "w8a8", target={
        "max_perplexity_increase": 0.02,
        "fallbacks": [{"method": "smoothquant"},
                      {"method": ["osplus", "gptq"], "scheme": "w6a6",
                       "params": {"gptq": {"act_order": True}}}]})
    assert spec.target.max_perplexity_increase == 0.02
    first, second = spec.target.fallbacks
    assert first.method == "smoothquant" and not first.HasField("scheme")
    assert second.method == "osplus+gptq" and second.scheme.preset == "w6a6"
    assert second.method_params["gptq"]["act_order"] is True
    with pytest.raises(ValueError, match="unknown keys"):
        make_spec("/m/model.gguf", "rtn", "w8a8", target={"max_ppl": 0.02})
    with pytest.raises(ValueError, match=r"target.fallbacks\[0\]"):
        make_spec("/m/model.gguf", "rtn", "w8a8",
                  target={"max_perplexity_increase": 0.02,
                          "fallbacks": [{"scheme": "w8a8"}]})


def test_make_spec_takes_every_export_format():
    spec = make_spec("/m/model.gguf", "rtn", "w4a16-g32",
                     export=["hf", "packed", "compressed-tensors", "gguf"])
    assert list(spec.export_formats) == [
        types_pb2.EXPORT_FORMAT_HF_SAFETENSORS,
        types_pb2.EXPORT_FORMAT_PACKED_INT,
        types_pb2.EXPORT_FORMAT_COMPRESSED_TENSORS,
        types_pb2.EXPORT_FORMAT_GGUF,
    ]


def test_make_spec_explicit_scheme():
    spec = make_spec("sha256:" + "b" * 64, "rtn", w_bits=4, group_size=128,
                     a_bits=8, a_granularity="token", dynamic=True)
    assert spec.model.blob == "sha256:" + "b" * 64
    weights, activations = spec.scheme.weights, spec.scheme.activations
    assert (weights.bits, weights.group_size, weights.enabled) == (4, 128, True)
    assert weights.granularity == types_pb2.GRANULARITY_PER_GROUP
    assert activations.granularity == types_pb2.GRANULARITY_PER_TOKEN
    assert activations.dynamic and activations.enabled
    with pytest.raises(ValueError):
        make_spec("http://x/model.gguf", "rtn")


def test_request_id_is_derived_from_the_whole_spec():
    spec = make_spec("/m/model.gguf", "osplus", "w8a8",
                     labels={"a": "1", "b": "2"})
    same = make_spec("/m/model.gguf", "osplus", "w8a8",
                     labels={"b": "2", "a": "1"})
    other = make_spec("/m/model.gguf", "osplus", "w8a8", labels={"a": "1"})
    assert request_id_for(spec) == request_id_for(same)
    assert request_id_for(spec) != request_id_for(other)
    assert request_id_for(spec).startswith("spec-")
    assert len(request_id_for(spec)) == len("spec-") + 64


def test_retry_delays_grow_within_bounds():
    policy = RetryPolicy(max_attempts=6, initial_backoff_seconds=1.0,
                         max_backoff_seconds=4.0)
    delays = list(policy.delays())
    assert len(delays) == 6 and delays[-1] is None
    for delay, cap in zip(delays, [1.0, 2.0, 4.0, 4.0, 4.0]):
        assert cap / 2 <= delay <= cap
    assert list(RetryPolicy(max_attempts=1).delays()) == [None]
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


def test_rpc_errors_map_to_exceptions_with_fields():
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                        "scheme.weights.bits: must be in 2..8, got 12"))
    assert isinstance(error, InvalidArgumentError)
    assert error.field == "scheme.weights.bits"
    down = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "refused"),
                          "10.0.0.1:7070")
    assert isinstance(down, UnavailableError)
    assert down.message == "cannot reach quantd at 10.0.0.1:7070: refused"
    assert field_of("bad request: odd") == ""
