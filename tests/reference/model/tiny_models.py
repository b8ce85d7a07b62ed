#!/usr/bin/env python3
"""Reference outputs of tiny randomly initialised HF models for the engine's
model_reference_test.

For each case (OPT pre-LN, OPT post-LN with project_in/out, LLaMA with GQA
and tied embeddings) this writes OUT/<case>/ with config.json and
model.safetensors (save_pretrained), and reference.json: token ids, the
attention mask (one row padded) and the logits of transformers' eager fp32
forward, flattened.

Usage: tiny_models.py --out DIR
"""
import argparse
import json
import os

import torch
from transformers import LlamaConfig, LlamaForCausalLM, OPTConfig, OPTForCausalLM

VOCAB = 1000
SEQ = 12


def randomise(model, seed):
    """Weights large enough that every path (biases, norms, attention)
    moves the logits; HF's default init (std 0.02) would hide mistakes."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if "norm" in name and name.endswith("weight"):
                param.copy_(1.0 + 0.1 * noise)
            elif name.endswith("bias"):
                param.copy_(0.1 * noise)
            else:
                param.copy_(0.15 * noise)


def make_opt(pre_norm):
    config = OPTConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2,
                       num_attention_heads=4, ffn_dim=128,
                       max_position_embeddings=64,
                       do_layer_norm_before=pre_norm,
                       word_embed_proj_dim=64 if pre_norm else 32,
                       activation_function="relu", pad_token_id=1,
                       tie_word_embeddings=True)
    return OPTForCausalLM(config), "left"


def make_llama():
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=128, max_position_embeddings=64,
                         rms_norm_eps=1e-5, rope_theta=50000.0,
                         hidden_act="silu", tie_word_embeddings=True)
    return LlamaForCausalLM(config), "right"


def write_case(out_dir, name, model, padding_side, seed):
    torch.manual_seed(seed)
    randomise(model, seed)
    model.config._attn_implementation = "eager"
    model.eval()
    case_dir = os.path.join(out_dir, name)
    model.save_pretrained(case_dir, safe_serialization=True)
    generator = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(2, VOCAB, (3, SEQ), generator=generator)
    mask = torch.ones_like(ids)
    if padding_side == "left":
        mask[1, :4] = 0
    else:
        mask[1, -4:] = 0
    ids[mask == 0] = 1
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    reference = {
        "ids": ids.tolist(),
        "mask": mask.tolist(),
        "logits_shape": list(logits.shape),
        "logits": logits.flatten().tolist(),
    }
    with open(os.path.join(case_dir, "reference.json"), "w") as f:
        json.dump(reference, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = {
        "opt": lambda: make_opt(True),
        "opt_post_norm": lambda: make_opt(False),
        "llama": make_llama,
    }
    for seed, (name, make) in enumerate(cases.items()):
        model, padding_side = make()
        write_case(args.out, name, model.float(), padding_side, 100 + seed)


if __name__ == "__main__":
    main()
