#!/usr/bin/env python3
"""Reference SmolLM2 tokenizer, built from the GGUF's own tokenizer metadata.

SmolLM2's original tokenizer.json (HuggingFaceTB/SmolLM2-*) is byte-level BPE
with pre_tokenizer Sequence[Digits(individual_digits=True),
ByteLevel(add_prefix_space=False, use_regex=True)], a ByteLevel decoder and
no post-processor; llama.cpp records that as tokenizer.ggml.pre = "smollm".
This script rebuilds exactly that tokenizer with HF `tokenizers` from the
GGUF's tokens and merges.

It deliberately does NOT use transformers' GGUF converter
(AutoTokenizer.from_pretrained(..., gguf_file=...)): that converter has no
"smollm" entry and silently falls back to a plain ByteLevel pre-tokenizer
(GPT-2 splitting, no Digits step). SmolLM2's merges never join digits, so
the two agree on ASCII numbers, but they differ wherever a numeric character
follows a space and could merge with it, e.g. " ½" (category No): the
converter gives "ĠÂ" "½", the real tokenizer "Ġ" "Â½". --compare-transformers
counts the difference; on the whole of wiki.test.raw (CRLF -> LF) both give
301,948 ids and 2 of them differ (positions 237,854-5, "died 4 ½ months").

Usage (any combination):
  smollm2_reference.py --gguf M.gguf --write-tokenizer-json out.json
  smollm2_reference.py --gguf M.gguf --write-metadata out.json
  smollm2_reference.py --gguf M.gguf --text in.txt --ids-out ids.bin
  smollm2_reference.py --gguf M.gguf --text in.txt --compare-transformers

--text is read as UTF-8 and tokenized as is (no special tokens added);
--crlf-to-lf first turns CRLF into LF, as the perplexity protocol does.
ids.bin holds the ids as little-endian int32.
"""

import argparse
import json
import pathlib
import sys

import gguf
import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

CONTROL, USER_DEFINED = 3, 4


def read_metadata(path):
    reader = gguf.GGUFReader(path)

    def field(key, default=None):
        f = reader.fields.get(key)
        return default if f is None else f.contents()

    return {
        "model": field("tokenizer.ggml.model"),
        "pre": field("tokenizer.ggml.pre", ""),
        "tokens": field("tokenizer.ggml.tokens"),
        "token_types": field("tokenizer.ggml.token_type", []),
        "merges": field("tokenizer.ggml.merges"),
        "bos_id": field("tokenizer.ggml.bos_token_id", -1),
        "eos_id": field("tokenizer.ggml.eos_token_id", -1),
        "unk_id": field("tokenizer.ggml.unknown_token_id", -1),
        "pad_id": field("tokenizer.ggml.padding_token_id", -1),
        "add_bos": bool(field("tokenizer.ggml.add_bos_token", False)),
        "add_eos": bool(field("tokenizer.ggml.add_eos_token", False)),
    }


def build_tokenizer(meta):
    if meta["model"] != "gpt2" or meta["pre"] != "smollm":
        sys.exit("expected tokenizer.ggml.model=gpt2, pre=smollm; got %s, %s" %
                 (meta["model"], meta["pre"]))
    vocab = {token: i for i, token in enumerate(meta["tokens"])}
    # llama.cpp splits each merge at the first space after its first byte.
    merges = []
    for merge in meta["merges"]:
        space = merge.index(" ", 1)
        merges.append((merge[:space], merge[space + 1:]))
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    added = [
        AddedToken(meta["tokens"][i], special=(t == CONTROL), normalized=False)
        for i, t in enumerate(meta["token_types"])
        if t in (CONTROL, USER_DEFINED)
    ]
    tokenizer.add_tokens([a for a in added if not a.special])
    tokenizer.add_special_tokens([a for a in added if a.special])
    return tokenizer


def read_text(path, crlf_to_lf):
    text = pathlib.Path(path).read_bytes().decode("utf-8")
    return text.replace("\r\n", "\n") if crlf_to_lf else text


def transformers_ids(gguf_path, text):
    """Ids from transformers' GGUF converter (the wrong pre-tokenizer)."""
    from transformers import AutoTokenizer
    path = pathlib.Path(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent),
                                              gguf_file=path.name)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--write-tokenizer-json")
    parser.add_argument("--write-metadata")
    parser.add_argument("--text")
    parser.add_argument("--crlf-to-lf", action="store_true")
    parser.add_argument("--ids-out")
    parser.add_argument("--compare-transformers", action="store_true")
    args = parser.parse_args()

    meta = read_metadata(args.gguf)
    tokenizer = build_tokenizer(meta)
    if args.write_tokenizer_json:
        tokenizer.save(args.write_tokenizer_json)
    if args.write_metadata:
        pathlib.Path(args.write_metadata).write_text(json.dumps(meta))
    if args.text is None:
        return
    text = read_text(args.text, args.crlf_to_lf)
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    if args.ids_out:
        np.asarray(ids, dtype="<i4").tofile(args.ids_out)
    if args.compare_transformers:
        other = transformers_ids(args.gguf, text)
        differing = [i for i, (a, b) in enumerate(zip(ids, other)) if a != b]
        print(json.dumps({"reference_ids": len(ids),
                          "transformers_ids": len(other),
                          "differing_positions": len(differing),
                          "first_differences": differing[:10]}))


if __name__ == "__main__":
    main()
