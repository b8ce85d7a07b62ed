"""make_spec and the error mapping of quantd_client, without a server."""

from __future__ import annotations

import grpc
import pytest

from quantd.v1 import types_pb2
from quantd_client import InvalidArgumentError, UnavailableError, make_spec
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
