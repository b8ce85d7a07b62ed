#!/usr/bin/env python3
"""Reference sentence embeddings of all-MiniLM-L6-v2 for the engine's
eval_reference_test: transformers AutoModel (eager, fp32) followed by
sentence-transformers' mean pooling (sum of token embeddings over the
attention mask / clamp(mask sum, 1e-9)).

The model runs on the engine's token ids (so a tokenizer difference cannot
hide or fake a forward-pass difference); the HF tokenizer's own ids for the
same sentences are returned too, for a separate tokenizer comparison.

Usage: minilm_embeddings.py --model DIR --input FILE --out FILE
  --input  JSON {"sentences": [...], "ids": [[...], ...]}
  --out    JSON {"embeddings": [[...], ...], "hf_ids": [[...], ...]}
"""
import argparse
import json

import torch
from transformers import AutoModel, AutoTokenizer


def mean_pool(hidden, mask):
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.input) as f:
        request = json.load(f)

    model = AutoModel.from_pretrained(args.model, attn_implementation="eager",
                                      torch_dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    hf_ids = [tokenizer(s, truncation=True, max_length=256)["input_ids"]
              for s in request["sentences"]]

    embeddings = []
    rows = request["ids"]
    with torch.no_grad():
        for start in range(0, len(rows), 16):
            batch = rows[start : start + 16]
            longest = max(len(r) for r in batch)
            ids = torch.zeros(len(batch), longest, dtype=torch.long)
            mask = torch.zeros(len(batch), longest, dtype=torch.long)
            for i, row in enumerate(batch):
                ids[i, : len(row)] = torch.tensor(row)
                mask[i, : len(row)] = 1
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            embeddings.extend(mean_pool(hidden, mask).tolist())
    with open(args.out, "w") as f:
        json.dump({"embeddings": embeddings, "hf_ids": hf_ids}, f)


if __name__ == "__main__":
    main()
