#!/usr/bin/env python3
"""Reference perplexity of SmolLM2 (GGUF, dequantized to fp32 by
transformers' own GGUF loader) on token ids computed by the engine, for the
engine's eval_reference_test.

The ids come from the engine because transformers' GGUF tokenizer
conversion lacks SmolLM2's "smollm" pre-tokenizer; feeding the same ids
isolates the forward pass. The protocol is the papers' (OmniQuant
main.py::evaluate): per window loss = model(ids, labels=ids).loss (mean CE
over L-1 shifted targets), nll = loss * L, ppl = exp(sum(nll) / (n * L)).

Loading bypasses from_pretrained's GGUF path (which requires the
accelerate package) but uses the same transformers functions: AutoConfig
from the GGUF metadata and load_gguf_checkpoint for the dequantized,
HF-named (q/k un-permuted) tensors.

Usage: smollm2_perplexity.py --gguf FILE --ids FILE --seq-len L
           --logits FILE --out FILE
  --ids     little-endian int32, n*L token ids
  --logits  little-endian float32 [L, vocab]: the engine's logits of
            window 0, compared element-wise
  --out     JSON: ppl, window_losses, max_abs_logit_diff, max_abs_logit
"""
import argparse
import json
import math
import os

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint


def load_model(gguf_path):
    directory, name = os.path.split(gguf_path)
    config = AutoConfig.from_pretrained(directory, gguf_file=name)
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32)
    tensors = load_gguf_checkpoint(gguf_path, return_tensors=True,
                                   model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if unexpected or any(key != "lm_head.weight" for key in missing):
        raise SystemExit(f"state dict mismatch: missing={missing} "
                         f"unexpected={unexpected}")
    model.tie_weights()
    return model.float().eval()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    parser.add_argument("--logits", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    model = load_model(args.gguf)
    ids = torch.from_numpy(np.fromfile(args.ids, dtype="<i4").astype(np.int64))
    length = args.seq_len
    windows = ids.numel() // length
    ids = ids[: windows * length].view(windows, length)
    losses = []
    max_abs_diff = max_abs = 0.0
    with torch.no_grad():
        for i in range(windows):
            out = model(ids[i : i + 1], labels=ids[i : i + 1])
            losses.append(out.loss.item())
            if i == 0:
                engine = np.fromfile(args.logits, dtype="<f4")
                engine = torch.from_numpy(engine).view(length, -1)
                logits = out.logits[0].float()
                max_abs_diff = (logits - engine).abs().max().item()
                max_abs = logits.abs().max().item()
    nlls = [loss * length for loss in losses]
    ppl = math.exp(sum(nlls) / (windows * length))
    with open(args.out, "w") as f:
        json.dump({"ppl": ppl, "window_losses": losses,
                   "max_abs_logit_diff": max_abs_diff,
                   "max_abs_logit": max_abs}, f)


if __name__ == "__main__":
    main()
