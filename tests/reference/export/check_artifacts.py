#!/usr/bin/env python3
"""Reads what quantd_engine_export_reference_test exported with the
reference implementations and writes what it finds as JSON:

  safetensors  roundtrip.safetensors loaded with Python safetensors; every
               tensor compared with the formula the C++ side used
  hf           tiny/model loaded with AutoModelForCausalLM.from_pretrained;
               logits on tiny/ids.bin against the engine's tiny/logits.bin
  packed       tiny/packed and odd/ unpacked with numpy (packed_format.py,
               written from docs/formats/packed-weights.md) and compared
               bit for bit with the fake-quantized weights
  svg          every tiny/plots/*.svg parsed with xml.etree

Usage: check_artifacts.py --dir DIR --out results.json
"""
import argparse
import glob
import json
import os
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file
from safetensors.torch import load_file as load_torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from packed_format import dequantize, load_packed, unpack_nibbles  # noqa: E402


def check_safetensors(directory):
    path = os.path.join(directory, "roundtrip.safetensors")
    expected = {
        "f32": torch.arange(15, dtype=torch.float32).reshape(3, 5) * 0.5,
        "f16": (torch.arange(4, dtype=torch.float32) * 0.25).half(),
        "bf16": (torch.arange(4, dtype=torch.float32) - 2.0).bfloat16(),
        "i8": torch.arange(-4, 4, dtype=torch.int8),
        "u8": torch.arange(250, 256, dtype=torch.int32).to(torch.uint8),
        "i32": torch.arange(-3, 3, dtype=torch.int32) * 1000,
        "i64": torch.tensor([1 << 40, -5], dtype=torch.int64),
        "scalar": torch.tensor(1.5, dtype=torch.float32),
    }
    loaded = load_torch(path)
    mismatches = [name for name, tensor in expected.items()
                  if name not in loaded or loaded[name].dtype != tensor.dtype
                  or loaded[name].shape != tensor.shape
                  or not torch.equal(loaded[name], tensor)]
    # The numpy loader too (numpy has no bfloat16).
    with safe_open(path, framework="np") as f:
        metadata = f.metadata()
        for name in f.keys():
            if name == "bf16":
                continue
            array, want = f.get_tensor(name), expected[name].numpy()
            if array.dtype != want.dtype or not np.array_equal(array, want):
                mismatches.append("numpy:" + name)
    return {"tensors": len(loaded), "mismatches": mismatches,
            "metadata": metadata}


def check_hf(directory):
    from transformers import AutoModelForCausalLM
    model_dir = os.path.join(directory, "tiny", "model")
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, attn_implementation="eager", dtype=torch.float32).eval()
    ids = np.fromfile(os.path.join(directory, "tiny", "ids.bin"), "<i4")
    ids = torch.from_numpy(ids.astype(np.int64)).view(2, -1)
    engine = np.fromfile(os.path.join(directory, "tiny", "logits.bin"), "<f4")
    with torch.no_grad():
        logits = model(ids).logits.float()
    engine = torch.from_numpy(engine).view(logits.shape)
    return {"architecture": type(model).__name__,
            "max_abs_logit_diff": (logits - engine).abs().max().item(),
            "max_abs_logit": logits.abs().max().item()}


def check_packed(directory):
    config, tensors = load_packed(os.path.join(directory, "tiny", "packed"))
    reference = load_file(os.path.join(directory, "tiny", "model",
                                       "model.safetensors"))
    mismatches = []
    for name, layer in config["layers"].items():
        w = dequantize(layer, tensors)
        if not np.array_equal(w.view(np.uint32),
                              reference[name + ".weight"].view(np.uint32)):
            mismatches.append(name)
    odd_config, odd_tensors = load_packed(os.path.join(directory, "odd"))
    odd_expected = load_file(os.path.join(directory, "odd",
                                          "expected.safetensors"))
    layer = odd_config["layers"]["odd"]
    odd_equal = np.array_equal(
        dequantize(layer, odd_tensors).view(np.uint32),
        odd_expected["odd.weight"].view(np.uint32))
    # Nibble round trip: repacking the unpacked codes gives the stored bytes.
    codes = unpack_nibbles(odd_tensors["odd.qweight"], 7, True)
    nibbles = np.concatenate([codes & 0x0F, np.zeros((5, 1), np.int16)],
                             axis=1).astype(np.uint8)
    repacked = nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)
    return {"layers": len(config["layers"]), "mismatches": mismatches,
            "odd": {"equal": bool(odd_equal),
                    "nibble_round_trip": bool(np.array_equal(
                        repacked, odd_tensors["odd.qweight"]))}}


def check_svg(directory):
    parsed, errors = 0, []
    for path in sorted(glob.glob(os.path.join(directory, "tiny", "plots",
                                              "*.svg"))):
        try:
            root = ElementTree.parse(path).getroot()
            if root.tag != "{http://www.w3.org/2000/svg}svg":
                errors.append(f"{path}: root is {root.tag}")
            parsed += 1
        except ElementTree.ParseError as error:
            errors.append(f"{path}: {error}")
    return {"parsed": parsed, "errors": errors}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results = {"safetensors": check_safetensors(args.dir),
               "packed": check_packed(args.dir),
               "svg": check_svg(args.dir),
               "hf": check_hf(args.dir)}
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
