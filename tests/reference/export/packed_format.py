"""A reader of the quantd packed-weights format written only from its spec,
docs/formats/packed-weights.md, with numpy: it is the spec's executable
reference, used by check_artifacts.py."""
import json
import os

import numpy as np
from safetensors.numpy import load_file


def load_packed(directory):
    """(quant_config dict, {tensor name: numpy array}) of a packed dir."""
    with open(os.path.join(directory, "quant_config.json")) as f:
        config = json.load(f)
    weights = config["weights"]
    tensors = {}
    if weights.endswith(".index.json"):
        with open(os.path.join(directory, weights)) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        for shard in shards:
            tensors.update(load_file(os.path.join(directory, shard)))
    else:
        tensors.update(load_file(os.path.join(directory, weights)))
    return config, tensors


def unpack_nibbles(packed, n, signed):
    """uint8 [..., ceil(n/2)] -> codes [..., n]: code 2k in the low nibble
    of byte k, code 2k+1 in the high nibble; int4 is two's complement."""
    low = packed & 0x0F
    high = packed >> 4
    codes = np.stack([low, high], axis=-1).reshape(*packed.shape[:-1], -1)
    codes = codes[..., :n].astype(np.int16)
    if signed:
        codes = np.where(codes >= 8, codes - 16, codes)
    return codes


def codes_of(layer, tensors):
    """The integer codes of a layer as int16 [out, in]."""
    spec = layer["codes"]
    stored = tensors[spec["tensor"]]
    out_features, in_features = layer["weight_shape"]
    if spec["packing"] == "nibble":
        return unpack_nibbles(stored, in_features, spec["dtype"] == "int4")
    return stored.astype(np.int16)


def dequantize(layer, tensors):
    """w = (float32(q) - float32(zero_point)) * scale, in float32, with one
    (scale, zero_point) pair per granularity row."""
    codes = codes_of(layer, tensors)
    scales = tensors[layer["scales"]["tensor"]].astype(np.float32)
    zero_points = tensors[layer["zero_points"]["tensor"]].astype(np.float32)
    out_features, in_features = layer["weight_shape"]
    # Rows of the granularity view: per_tensor [1, out*in], per_channel
    # [out, in], per_group [out*in/G, G]; scales are stored in row order.
    rows = codes.astype(np.float32).reshape(scales.size, -1)
    w = (rows - zero_points.reshape(-1, 1)) * scales.reshape(-1, 1)
    return w.astype(np.float32).reshape(out_features, in_features)
