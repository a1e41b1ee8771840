#!/usr/bin/env python3
"""Expected ids from the PyPI `tokenizers` package (0.23.3) for ftrain's byte-level BPE parity test.

Two tokenizer.json files over SmolLM2's vocabulary (49,152 tokens, 48,900 merges):
  - smollm2: the one `ftrain convert` writes for SmolLM2-135M (tools/fetch_data.sh's
    smollm2/hf/tokenizer.json): Sequence[Digits(individual_digits), ByteLevel], 17 special tokens;
  - gpt2: the same with GPT-2's plain ByteLevel pre-tokenizer (tests/io/test_bpe.cpp builds it
    from the first one the same way, see gpt2_style below).
Writes tests/golden/fixtures/bpe_parity.txt:
  - "<set> <row> <n_ids> <fnv1a64>" for every text of Rotten Tomatoes (both files) and Reuters R8
    (train and test) with the smollm2 tokenizer; "<set> all <n_ids> <fnv1a64>" over all the set's ids
    with the gpt2 one;
  - edge cases as JSON lines prefixed by "case ": text, variant, ids, and the decoded text.
Run in the generator venv."""
import copy
import csv
import json
import os
import sys

from tokenizers import Tokenizer

DATA = os.environ.get("FT_DATA_DIR", os.path.expanduser("~/.cache/ftrain/data"))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_tokenizer_parity import SETS, fnv1a64, read_texts  # noqa: E402

EDGE = [
    "Hello, world!",
    "Café naïve résumé Ångström façade ÉCOLE İstanbul",
    "北京欢迎你 東京 and 한국어 text",
    "emoji 😀 👍🏽 ❤️ ☺ 👨‍👩‍👧 in text",
    "control\x00chars\x07and\ttabs\r\nnewlines\x0bvt\u200bzw\u00a0nbsp\u2028ls\x1cfs\x85nel",
    "   leading spaces, trailing   ",
    "multiple     spaces\n\n\nand\t\t tabs \n \n",
    " ",
    "",
    "    ",
    "\n",
    "don't we'll I'm you're they've she'd it's 'S 'LL",
    "numbers 1234567 3.14159 1,000,000 ٣٤٥ ½ Ⅻ",
    "In 2019, revenue was $4.2bn (up 12%).",
    "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>text<|endoftext|> <|im_end|>x",
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n",
    "“curly quotes” — em dash – en dash … ellipsis ‘single’",
    "ﬁ ligature, Å vs Å, e\u0301 combining",
    "x" * 300,
    "a" + " " * 50 + "b",
    "url https://example.com/path?q=1&r=2#frag email a.b@c.org",
    "Ünïcödé ΑΒΓ абв עברית العربية हिन्दी ไทย",
]


def gpt2_style(j):
    j = copy.deepcopy(j)
    j["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return j


def main():
    path = os.path.join(DATA, "smollm2", "hf", "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    smol = Tokenizer.from_file(path)
    gpt2 = Tokenizer.from_str(json.dumps(gpt2_style(j)))
    out = [f"# tokenizers {__import__('tokenizers').__version__}, SmolLM2-135M tokenizer.json as ftrain convert writes it"]
    for name, rel, column, delim, header_rows in SETS:
        texts = read_texts(os.path.join(DATA, rel), column, delim, header_rows)
        for i, enc in enumerate(smol.encode_batch(texts)):
            out.append(f"{name} {i} {len(enc.ids)} {fnv1a64(enc.ids):016x}")
        all_ids = [i for enc in gpt2.encode_batch(texts) for i in enc.ids]
        out.append(f"{name} all {len(all_ids)} {fnv1a64(all_ids):016x}")
        print(name, len(texts), file=sys.stderr)
    for text in EDGE:
        for variant, tok in (("smollm2", smol), ("gpt2", gpt2)):
            ids = tok.encode(text).ids
            out.append("case " + json.dumps({"text": text, "variant": variant, "ids": ids,
                                              "decoded": tok.decode(ids, skip_special_tokens=False),
                                              "decoded_skip": tok.decode(ids, skip_special_tokens=True)},
                                             ensure_ascii=True))
    with open(os.path.join(HERE, "fixtures", "bpe_parity.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
