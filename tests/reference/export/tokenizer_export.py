#!/usr/bin/env python3
"""The tokenizer files the engine writes for a GGUF model
(worker/engine/export/tokenizer_files.h), read by transformers:

  * AutoTokenizer.from_pretrained(model_dir) on the exported directory;
  * token ids of each line (and of the whole text) against the engine's
    ids, computed by the C++ test from the GGUF metadata, and against
    transformers' own GGUF tokenizer (AutoTokenizer.from_pretrained(...,
    gguf_file=...)), which lacks SmolLM2's digit split (see
    tests/reference/tokenizer/smollm2_reference.py) and so may differ on
    a few ids of the whole text;
  * decode(encode(line)) == line;
  * the chat template (tokenizer_config.json) renders a two-message
    conversation, and a generation prompt, exactly as the GGUF's
    tokenizer.chat_template does in transformers;
  * bos/eos/unk/pad tokens and ids equal the GGUF tokenizer's.

Usage: tokenizer_export.py --model-dir DIR --gguf FILE --cases FILE --out FILE
  --cases  JSON: lines, line_ids (engine), text_file, text_ids (engine)
"""
import argparse
import json
import pathlib

from transformers import AutoTokenizer

CONVERSATION = [
    {"role": "user", "content": "How many legs does a spider have?"},
    {"role": "assistant", "content": "A spider has 8 legs."},
]


def count_mismatches(a, b):
    return sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))


def compare_ids(ours, reference):
    return {"length": len(ours), "reference_length": len(reference),
            "length_equal": len(ours) == len(reference),
            "mismatches": count_mismatches(ours, reference)}


def chat_results(exported, original):
    rendered = exported.apply_chat_template(CONVERSATION, tokenize=False)
    expected = original.apply_chat_template(CONVERSATION, tokenize=False)
    prompt = CONVERSATION[:1]
    return {
        "rendered": rendered,
        "equal": rendered == expected,
        "generation_prompt_equal":
            exported.apply_chat_template(prompt, tokenize=False,
                                         add_generation_prompt=True) ==
            original.apply_chat_template(prompt, tokenize=False,
                                         add_generation_prompt=True),
        "ids_equal":
            exported(rendered, add_special_tokens=False)["input_ids"] ==
            original(expected, add_special_tokens=False)["input_ids"],
    }


def special_tokens_equal(exported, original):
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        if getattr(exported, name) != getattr(original, name):
            return False
        if getattr(exported, name + "_id") != getattr(original, name + "_id"):
            return False
    return True


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--model-dir", "--gguf", "--cases", "--out"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    cases = json.loads(pathlib.Path(args.cases).read_text(encoding="utf-8"))
    gguf = pathlib.Path(args.gguf)

    exported = AutoTokenizer.from_pretrained(args.model_dir)
    original = AutoTokenizer.from_pretrained(str(gguf.parent),
                                             gguf_file=gguf.name)

    lines = cases["lines"]
    vs_engine = vs_gguf = round_trip_failures = 0
    for line, engine_ids in zip(lines, cases["line_ids"]):
        ids = exported(line, add_special_tokens=False)["input_ids"]
        vs_engine += ids != engine_ids
        vs_gguf += ids != original(line, add_special_tokens=False)["input_ids"]
        round_trip_failures += exported.decode(ids) != line

    text = pathlib.Path(cases["text_file"]).read_bytes().decode("utf-8")
    text_ids = exported(text, add_special_tokens=False)["input_ids"]
    gguf_text_ids = original(text, add_special_tokens=False)["input_ids"]
    special = exported("<|im_start|>hi<|im_end|>",
                       add_special_tokens=False)["input_ids"]

    results = {
        "tokenizer_class": type(exported).__name__,
        "lines": len(lines),
        "line_tokens": sum(len(ids) for ids in cases["line_ids"]),
        "line_mismatches_vs_engine": vs_engine,
        "line_mismatches_vs_transformers_gguf": vs_gguf,
        "decode_round_trip_failures": round_trip_failures,
        "text_ids_vs_engine": compare_ids(text_ids, cases["text_ids"]),
        "text_ids_vs_transformers_gguf": compare_ids(text_ids, gguf_text_ids),
        "text_round_trip": exported.decode(text_ids) == text,
        "chat_template": chat_results(exported, original),
        "special_tokens_equal": special_tokens_equal(exported, original),
        "skip_special_decode": exported.decode(special,
                                               skip_special_tokens=True),
    }
    pathlib.Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
