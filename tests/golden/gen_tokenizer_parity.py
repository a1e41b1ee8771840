#!/usr/bin/env python3
"""Expected token ids from the PyPI `tokenizers` package (0.23.3) for ftrain's WordPiece parity test.

Uses the all-MiniLM-L6-v2 tokenizer.json fetched by tools/fetch_data.sh. Writes
tests/golden/fixtures/tokenizer_parity.txt:
  - for every text of the Rotten Tomatoes (both files) and Reuters R8 (train and test) sets, encoded
    with special tokens and without truncation or padding: "<set> <row> <n_ids> <fnv1a64 of the ids>"
    (a hash per text keeps the fixture small; on a mismatch the C++ test prints the text and its ids);
  - the hand-made edge cases, with their full ids, type ids and attention masks, as JSON lines
    prefixed by "case ".
Run in the generator venv (tools/setup_generator_env.sh, plus `pip install tokenizers==0.23.3`).
"""
import csv
import json
import os
import sys

from tokenizers import Tokenizer

DATA = os.environ.get("FT_DATA_DIR", os.path.expanduser("~/.cache/ftrain/data"))
HERE = os.path.dirname(os.path.abspath(__file__))


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        for b in int(i).to_bytes(4, "little", signed=True):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_texts(path, column, delimiter, header_rows):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    header, data = rows[0], rows[header_rows:]
    i = header.index(column)
    return [r[i] for r in data if r != [""] and r != []]


SETS = [
    ("rt", "rotten_tomatoes/rotten_tomatoes_corpus.csv", "text", ",", 1),
    ("rt_full", "rotten_tomatoes/rotten_tomatoes_corpus_full.csv", "text", ",", 1),
    ("r8_train", "reuters_r8/reuters-r8-train.tab", "Text", "\t", 3),
    ("r8_test", "reuters_r8/reuters-r8-test.tab", "Text", "\t", 3),
]

# Edge cases: (text, pair or None, truncation (max_length, strategy) or None, pad_to or None).
LONG = "supercalifragilisticexpialidocious" * 4  # 136 characters: over the 100-character limit
EDGE = [
    ("Hello, world!", None, None, None),
    ("Café naïve résumé Ångström façade", None, None, None),
    ("ÉCOLE SUPÉRIEURE İstanbul", None, None, None),
    ("北京欢迎你 東京 and 한국어 text", None, None, None),
    ("emoji 😀 👍 ❤ ☺ in text", None, None, None),
    ("control\x00chars\x07and\ttabs\r\nnewlines\x0bvt\u200bzw\u00a0nbsp", None, None, None),
    ("wordpiece: unaffable embeddings transformers", None, None, None),
    (LONG + " short", None, None, None),
    ("", None, None, None),
    ("   \t\n  ", None, None, None),
    ("don't stop-believing... (really?!) $100 #1 @home", None, None, None),
    ("literal [SEP] and [CLS] inside [MASK] text", None, None, None),
    ("“curly quotes” — em dash – en dash … ellipsis", None, None, None),
    ("The premise is long enough to need truncation here", "and a hypothesis", (16, "longest_first"), None),
    ("short", "a much longer second sentence that will be truncated a lot", (12, "longest_first"), None),
    ("the first sentence is the one that loses tokens", "keep me", (12, "only_first"), None),
    ("pad me", None, None, 10),
    ("pair", "pad", None, 12),
]


def main():
    tok = Tokenizer.from_file(os.path.join(DATA, "minilm", "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    out = [f"# tokenizers {__import__('tokenizers').__version__}, all-MiniLM-L6-v2 tokenizer.json"]
    for name, rel, column, delim, header_rows in SETS:
        texts = read_texts(os.path.join(DATA, rel), column, delim, header_rows)
        for i, enc in enumerate(tok.encode_batch(texts)):
            out.append(f"{name} {i} {len(enc.ids)} {fnv1a64(enc.ids):016x}")
        print(name, len(texts), file=sys.stderr)
    for text, pair, trunc, pad in EDGE:
        t = Tokenizer.from_file(os.path.join(DATA, "minilm", "tokenizer.json"))
        t.no_truncation()
        t.no_padding()
        if trunc:
            t.enable_truncation(max_length=trunc[0], strategy=trunc[1])
        if pad:
            t.enable_padding(length=pad, pad_id=0, pad_token="[PAD]")
        enc = t.encode(text, pair) if pair is not None else t.encode(text)
        out.append("case " + json.dumps({"text": text, "pair": pair, "truncation": trunc, "pad": pad, "ids": enc.ids,
                                          "type_ids": enc.type_ids, "attention_mask": enc.attention_mask,
                                          "tokens": enc.tokens}, ensure_ascii=True))
    with open(os.path.join(HERE, "fixtures", "tokenizer_parity.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
