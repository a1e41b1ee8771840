#!/usr/bin/env python3
"""Tokenizer throughput of ftrain against the PyPI tokenizers package on the same 26,601 texts, same
machine, same thread count. Run in the generator venv (tokenizers installed):
  ~/.venvs/ftrain-gen/bin/python bench/compare_tokenizers.py build/bench/ft_bench_tokenizer
"""
import csv
import json
import os
import subprocess
import sys
import time

from tokenizers import Tokenizer

DATA = os.environ.get("FT_DATA_DIR", os.path.expanduser("~/.cache/ftrain/data"))
SETS = [("rotten_tomatoes/rotten_tomatoes_corpus.csv", "text", ",", 1),
        ("rotten_tomatoes/rotten_tomatoes_corpus_full.csv", "text", ",", 1),
        ("reuters_r8/reuters-r8-train.tab", "Text", "\t", 3), ("reuters_r8/reuters-r8-test.tab", "Text", "\t", 3)]


def main():
    texts = []
    for rel, col, delim, header in SETS:
        rows = list(csv.reader(open(os.path.join(DATA, rel), newline="", encoding="utf-8"), delimiter=delim))
        i = rows[0].index(col)
        texts += [r[i] for r in rows[header:] if r]
    tok = Tokenizer.from_file(os.path.join(DATA, "minilm", "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    tok.encode_batch(texts[:100])
    best = 0
    for _ in range(3):
        t0 = time.perf_counter()
        n = sum(len(e.ids) for e in tok.encode_batch(texts))
        best = max(best, n / (time.perf_counter() - t0))
    out = subprocess.run([sys.argv[1], "--benchmark_format=json"], check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout)["benchmarks"][0]["tokens/s"]
    print(f"{len(texts)} texts; ftrain {ours / 1e6:.2f} M tokens/s, PyPI tokenizers {best / 1e6:.2f} M tokens/s, "
          f"ratio {ours / best:.2f}")


if __name__ == "__main__":
    main()
