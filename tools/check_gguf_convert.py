#!/usr/bin/env python3
"""Checks `ftrain convert` against transformers' own GGUF loader (the `gguf` PyPI package):
the converted directory's tensors equal the ones transformers dequantises from the GGUF file (names,
shapes, values), its logits on prompts equal the GGUF-loaded model's, and its tokenizer.json encodes
the prompts as transformers' GGUF tokenizer does (digits aside: see below).

Usage: check_gguf_convert.py GGUF_FILE CONVERTED_DIR
Exit 0 when everything agrees; prints the largest differences."""
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "def fibonacci(n):",
    "Reuters - Oil prices rose on Tuesday after",
    "The quick brown fox jumps over the lazy dog.",
    "In 2019, the company reported revenue of",
    "Photosynthesis is the process by which",
    "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n",
]


def main():
    gguf_file, converted = sys.argv[1], sys.argv[2]
    folder, name = os.path.split(os.path.abspath(gguf_file))
    ref = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    ours = AutoModelForCausalLM.from_pretrained(converted, dtype=torch.float32).eval()
    ok = True
    rs, os_ = ref.state_dict(), ours.state_dict()
    if set(rs) != set(os_):
        print("tensor names differ:", sorted(set(rs) ^ set(os_))[:10])
        ok = False
    worst = 0.0
    for k in sorted(set(rs) & set(os_)):
        if rs[k].shape != os_[k].shape:
            print(f"{k}: shape {tuple(os_[k].shape)} vs transformers' {tuple(rs[k].shape)}")
            ok = False
            continue
        worst = max(worst, (rs[k] - os_[k]).abs().max().item())
    print(f"tensors: {len(os_)}, largest absolute difference from transformers' dequantisation: {worst:.3g}")
    ok &= worst == 0.0
    tok = AutoTokenizer.from_pretrained(converted)
    ref_tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    worst_rel = 0.0
    for p in PROMPTS:
        ids = tok(p, return_tensors="pt").input_ids
        ref_ids = ref_tok(p, return_tensors="pt").input_ids
        # transformers' GGUF tokenizer drops SmolLM2's digit splitting (its pre-tokenizer is plain
        # ByteLevel); the converted one keeps it. Both give the same ids wherever no digits occur.
        if not any(c.isdigit() for c in p) and not torch.equal(ids, ref_ids):
            print(f"tokenization differs for {p!r}: {ids.tolist()} vs {ref_ids.tolist()}")
            ok = False
        with torch.no_grad():
            a, b = ours(ids).logits, ref(ids).logits
        rel = ((a - b).abs().max() / b.abs().max()).item()
        worst_rel = max(worst_rel, rel)
    print(f"logits on {len(PROMPTS)} prompts: max relative difference {worst_rel:.3g}")
    ok &= worst_rel == 0.0
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
