#!/usr/bin/env python3
"""The exported SmolLM2 against transformers, for the export acceptance
test ("the exported model loads in transformers and its FP perplexity
equals the original's"):

  * the export directory is loaded with AutoModelForCausalLM.from_pretrained
    (its own config.json, float32 safetensors);
  * the original GGUF is loaded by transformers' own GGUF functions
    (AutoConfig from the metadata and load_gguf_checkpoint, bypassing
    from_pretrained's GGUF path, which needs the accelerate package);
  * every tensor of the export must equal the GGUF's dequantized tensor,
    and both models get the perplexity of the engine's token ids by the
    papers' protocol (loss_i = mean CE of window i; ppl = exp(mean loss)),
    plus window 0's logits against the engine's.

Usage: smollm2_export.py --model-dir DIR --gguf FILE --ids FILE
           --seq-len L --logits FILE --out FILE
  --ids     little-endian int32 token ids, n*L of them
  --logits  little-endian float32 [L, vocab]: the engine's logits of window 0
"""
import argparse
import json
import math
import os

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint


def load_original(gguf_path):
    directory, name = os.path.split(gguf_path)
    config = AutoConfig.from_pretrained(directory, gguf_file=name)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_gguf_checkpoint(gguf_path, return_tensors=True,
                                   model_to_load=model)["tensors"]
    model.load_state_dict(tensors, strict=False)
    model.tie_weights()
    return model.float().eval()


def perplexity(model, ids, length):
    losses = []
    with torch.no_grad():
        for i in range(ids.shape[0]):
            window = ids[i:i + 1]
            losses.append(model(window, labels=window).loss.item())
    return math.exp(sum(loss * length for loss in losses) /
                    (len(losses) * length))


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--model-dir", "--gguf", "--ids", "--logits", "--out"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    args = parser.parse_args()

    exported = AutoModelForCausalLM.from_pretrained(
        args.model_dir, attn_implementation="eager",
        dtype=torch.float32).eval()
    original = load_original(args.gguf)
    ours = exported.state_dict()
    theirs = original.state_dict()
    tensors_equal = set(ours) == set(theirs) and all(
        torch.equal(ours[name], theirs[name]) for name in ours)

    length = args.seq_len
    ids = np.fromfile(args.ids, dtype="<i4").astype(np.int64)
    ids = torch.from_numpy(ids[: ids.size // length * length]).view(-1, length)
    with torch.no_grad():
        logits = exported(ids[:1]).logits[0].float()
    engine = torch.from_numpy(np.fromfile(args.logits, dtype="<f4"))
    engine = engine.view(length, -1)
    results = {
        "architecture": type(exported).__name__,
        "tensors_equal_to_gguf": tensors_equal,
        "exported_ppl": perplexity(exported, ids, length),
        "original_ppl": perplexity(original, ids, length),
        "max_abs_logit_diff": (logits - engine).abs().max().item(),
        "max_abs_logit": logits.abs().max().item(),
    }
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
