"""An independent reference for the OS+ threshold search (issue #22).

Written from docs/ALGORITHMS.md §2.3 (../shared/docs) and the OS+ paper
(§4.2.2, Eq. 6-8), with the official implementation's semantics checked by
reading it (ModelTC/Outlier_Suppression_Plus, quantization/migration_llama.py,
Migrator1DRangeSearch); no code is taken from it. For one input site:

  s_j(t) = max(1, cmax_j / t if cmax_j > t, cmin_j / -t if cmin_j < -t)
  L(t)   = mean over tokens of sum over outputs of
           (F(Q_a(X / s(t)), Q_w(W * s(t))) - F(X, W))^2
  grid   : T = max(-min(min X, 0), max(max X, 0)), K = max(100, int(A+/0.5)),
           t = T, T - step, ... while t >= lb, step = (T - lb) / K;
           the first strict minimum wins (ties keep the larger t).

The channel statistics and the grid come from the whole statistics batch;
the loss is taken over the tokens the dump names (every token in the
official setting). F is the site's function: the LLaMA attention context
(RoPE in the HF rotate-half convention, GQA repetition, causal softmax) for
q/k/v, act(gate) * up for gate/up, X W^T for a single Linear (bias
omitted). Q_a and Q_w are fresh MinMax fake quantizers built from the
quantizer settings in the dump: per-tensor activations use the clipping
range (-t, t) itself; per-token / per-group activations take each row's
min/max of X / s; weights take the concatenated consumers' rows (per
channel or group) or the whole concatenation (per tensor). The range always
includes 0 (OS/OS+ convention).

Everything is computed in float32, as the official code does for the
FP32 model; losses are returned as Python floats.
"""

import json
import math
import pathlib

import numpy as np
import torch


def load_dump(path):
    """A site dump written by ThresholdSearch::Dump."""
    path = pathlib.Path(path)
    meta = json.loads((path / "meta.json").read_text())
    dump = {"meta": meta}
    for name in ("x", "sample_index", "weight", "bias", "scale"):
        file = path / f"{name}.npy"
        dump[name] = torch.from_numpy(np.load(file)) if file.exists() else None
    return dump


# ---------------------------------------------------------------------------
# Quantizer (docs/ALGORITHMS.md §1.1)


def qparams(lo, hi, quant):
    """(scale, zero point) of MinMax ranges [lo, hi] (tensors of one shape)."""
    if not quant["include_zero"]:
        raise NotImplementedError("OS+ quantizers always include zero")
    qmin, qmax = float(quant["qmin"]), float(quant["qmax"])
    lo = torch.clamp(lo, max=0.0)
    hi = torch.clamp(hi, min=0.0)
    if quant["symmetric"]:
        absmax = torch.maximum(-lo, hi)
        scale = torch.clamp(absmax / ((qmax - qmin) / 2.0), min=quant["eps"])
        return scale, torch.zeros_like(scale)
    scale = torch.clamp((hi - lo) / (qmax - qmin), min=quant["eps"])
    zero_point = torch.clamp(qmin - torch.round(lo / scale), qmin, qmax)
    return scale, zero_point


def fake_quantize(x, scale, zero_point, quant):
    """round-half-to-even, clamp to the integer grid, dequantize."""
    code = torch.clamp(torch.round(x / scale) + zero_point,
                       float(quant["qmin"]), float(quant["qmax"]))
    return (code - zero_point) * scale


def quantize_rows(x, quant, row_length):
    """Dynamic MinMax per row of `row_length` contiguous values."""
    rows = x.reshape(-1, row_length)
    scale, zp = qparams(rows.min(1, keepdim=True)[0],
                        rows.max(1, keepdim=True)[0], quant)
    return fake_quantize(rows, scale, zp, quant).reshape(x.shape)


def quantize_activation(x, t, quant):
    if not quant["enabled"]:
        return x
    granularity = quant["granularity"]
    if granularity == "per_tensor":
        # The clipping range of the candidate itself, (-t, t).
        t = torch.tensor(t, dtype=torch.float32)
        scale, zp = qparams(-t, t, quant)
        return fake_quantize(x, scale, zp, quant)
    if granularity == "per_token":
        return quantize_rows(x, quant, x.shape[-1])
    if granularity == "per_group":
        return quantize_rows(x, quant, quant["group_size"])
    raise ValueError(f"activation granularity {granularity}")


def quantize_weight(w, quant):
    if not quant["enabled"]:
        return w
    granularity = quant["granularity"]
    if granularity == "per_tensor":
        scale, zp = qparams(w.min(), w.max(), quant)
        return fake_quantize(w, scale, zp, quant)
    if granularity == "per_channel":
        return quantize_rows(w, quant, w.shape[-1])
    if granularity == "per_group":
        return quantize_rows(w, quant, quant["group_size"])
    raise ValueError(f"weight granularity {granularity}")


# ---------------------------------------------------------------------------
# Site functions F (LLaMA architecture)


def activation_fn(name):
    if name in ("silu", "swish"):
        return torch.nn.functional.silu
    if name in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
        return lambda v: torch.nn.functional.gelu(v, approximate="tanh")
    raise ValueError(f"hidden_act {name}")


def rotate_half(v):
    half = v.shape[-1] // 2
    return torch.cat((-v[..., half:], v[..., :half]), dim=-1)


def attention_context(x, weight, bias, meta):
    """x [B, T, C] -> softmax(q k^T / sqrt(D) + causal) v, [B*T, H*D]."""
    extra = meta["extra"]
    heads, kv_heads, dim = (extra["num_heads"], extra["num_kv_heads"],
                            extra["head_dim"])
    batch, seq, _ = x.shape
    qkv = x @ weight.T
    if bias is not None:
        qkv = qkv + bias
    q_size, kv_size = heads * dim, kv_heads * dim
    q = qkv[..., :q_size].reshape(batch, seq, heads, dim).transpose(1, 2)
    k = qkv[..., q_size:q_size + kv_size].reshape(
        batch, seq, kv_heads, dim).transpose(1, 2)
    v = qkv[..., q_size + kv_size:].reshape(
        batch, seq, kv_heads, dim).transpose(1, 2)
    inv_freq = 1.0 / (extra["rope_theta"] ** (
        torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    angles = torch.arange(seq, dtype=torch.float32)[:, None] * inv_freq
    angles = torch.cat((angles, angles), dim=-1)
    cos, sin = angles.cos(), angles.sin()
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    groups = heads // kv_heads
    k = k.repeat_interleave(groups, dim=1)
    v = v.repeat_interleave(groups, dim=1)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(dim)
    causal = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(causal, float("-inf"))
    context = scores.softmax(-1) @ v
    return context.transpose(1, 2).reshape(batch * seq, heads * dim)


def site_function(x, weight, bias, meta):
    """F(x, W) as [tokens, outputs]; x is [B, T, C] for attention, else
    [n, C]."""
    kind = meta["kind"]
    if kind == "attention":
        return attention_context(x, weight, bias, meta)
    if kind == "elementwise":
        gate_size, up_size = meta["out_sizes"]
        out = x @ weight.T
        if bias is not None:
            out = out + bias
        act = activation_fn(meta["extra"]["hidden_act"])
        return act(out[:, :gate_size]) * out[:, gate_size:]
    if kind == "linear":
        return x @ weight.T
    raise ValueError(f"site kind {kind}")


# ---------------------------------------------------------------------------
# The search


def candidate_grid(x, lower_bound, max_candidates=0):
    """The official grid; `max_candidates` > 0 caps K (quantd's option)."""
    a_plus = max(float(x.max()), 0.0)
    a_minus = min(float(x.min()), 0.0)
    t_max = max(-a_minus, a_plus)
    count = max(100, int(a_plus / 0.5))
    if max_candidates > 0:
        count = min(count, max_candidates)
    step = (t_max - lower_bound) / count
    grid = []
    t = t_max
    while t >= lower_bound:
        grid.append(t)
        t -= step
        if step <= 0:
            break
    return grid


def outlier_scale(cmin, cmax, t):
    t = torch.tensor(t, dtype=torch.float32)
    one = torch.ones_like(cmax)
    upper = torch.where(cmax > t, cmax / t, one)
    lower = torch.where(cmin < -t, cmin / -t, one)
    return torch.maximum(upper, lower)


class SiteSearch:
    """The OS+ objective of one dumped site."""

    def __init__(self, dump):
        self.meta = dump["meta"]
        x = dump["x"].float()
        self.weight = dump["weight"].float()
        self.bias = None if dump["bias"] is None else dump["bias"].float()
        flat = x.reshape(-1, x.shape[-1])
        self.cmax = flat.max(0)[0]
        self.cmin = flat.min(0)[0]
        self.grid = candidate_grid(x, self.meta["lower_bound"],
                                   self.meta.get("max_candidates", 0))
        index = dump["sample_index"]
        if self.meta["kind"] == "attention":
            # Whole sequences: the first len(index) / T of them.
            sequences = index.numel() // x.shape[1]
            self.sample = x[:sequences]
        else:
            self.sample = flat[index]
        self.reference = site_function(self.sample, self.weight, self.bias,
                                       self.meta)

    def loss(self, t):
        s = outlier_scale(self.cmin, self.cmax, t)
        x = quantize_activation(self.sample / s, t,
                                self.meta["activation_quant"])
        w = quantize_weight(self.weight * s, self.meta["weight_quant"])
        out = site_function(x, w, self.bias, self.meta)
        return float((out - self.reference).pow(2).sum(-1).mean())

    def curve(self, thresholds=None):
        grid = self.grid if thresholds is None else thresholds
        with torch.no_grad():
            return [self.loss(t) for t in grid]

    def choose(self, losses):
        """Index of the first strict minimum."""
        best, best_index = math.inf, 0
        for i, value in enumerate(losses):
            if value < best:
                best, best_index = value, i
        return best_index
