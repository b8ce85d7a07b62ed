#!/usr/bin/env python3
"""Reference all-MiniLM-L6-v2 (BERT WordPiece) token ids, from the model's
own tokenizer.json through HF `tokenizers`.

Encodes the text the way sentence encoders are fed: one sequence per line,
[CLS] ... [SEP] added, lines that hold only spaces/tabs/CR skipped. The
tokenizer.json's truncation (128) and fixed padding are switched off: the
caller decides the sequence length.

Usage:
  minilm_reference.py --tokenizer-json T.json --text in.txt --ids-out ids.bin

ids.bin (little-endian int32): the number of lines encoded, then for each
line its id count followed by its ids.
"""

import argparse
import pathlib

import numpy as np
from tokenizers import Tokenizer


def encodable_lines(text):
    return [line for line in text.split("\n") if line.strip(" \t\r")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer-json", required=True)
    parser.add_argument("--text", required=True)
    parser.add_argument("--ids-out", required=True)
    args = parser.parse_args()

    tokenizer = Tokenizer.from_file(args.tokenizer_json)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    text = pathlib.Path(args.text).read_bytes().decode("utf-8")
    lines = encodable_lines(text)
    out = [len(lines)]
    for encoding in tokenizer.encode_batch(lines, add_special_tokens=True):
        out.append(len(encoding.ids))
        out.extend(encoding.ids)
    np.asarray(out, dtype="<i4").tofile(args.ids_out)


if __name__ == "__main__":
    main()
