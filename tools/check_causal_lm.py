#!/usr/bin/env python3
"""Checks a causal-LM directory that ftrain wrote (ftrain train --task causal-lm, or ftrain convert)
against transformers' AutoModelForCausalLM loading the same directory:
  - the loss on blocks of a data file: `ftrain eval` (run here) and transformers in f32 on the same
    blocks (the texts tokenized with the directory's tokenizer.json, concatenated and cut into
    block_size blocks, as run_clm's group_texts does), both against transformers in f64: ftrain's
    error at most 1e-5 relative or 3 times transformers' own f32 error (30 layers of f32 round-off
    move a loss by ~1e-5 relative);
  - greedy generation: `ftrain generate` against transformers' generate(do_sample=False), token for
    token, on a few prompts, and the logits of the first 4 steps (output_logits) within 1e-4
    relative (of the largest).
Usage: check_causal_lm.py FTRAIN MODEL_DIR DATA_FILE TEXT_COLUMN BLOCK_SIZE MAX_BLOCKS"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

PROMPTS = ["The company said", "Oil prices rose", "In a statement, the bank"]


def texts_of(path, column):
    delim = "\t" if path.endswith((".tab", ".tsv")) else ","
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=delim))
    skip = 3 if path.endswith(".tab") else 1
    i = rows[0].index(column)
    return [r[i] for r in rows[skip:] if r]


def main():
    ftrain, model_dir, data, column, block, max_blocks = sys.argv[1:7]
    block, max_blocks = int(block), int(max_blocks)
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    ids = [i for t in texts_of(data, column) for i in tok.encode(t).ids]
    blocks = [ids[k:k + block] for k in range(0, len(ids) - block + 1, block)][:max_blocks]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    def mean_loss(m):
        losses = []
        with torch.no_grad():
            for k in range(0, len(blocks), 8):
                x = torch.tensor(blocks[k:k + 8])
                losses += [m(x, labels=x).loss.item()] * len(x)
        return sum(losses) / len(losses)

    hf_loss = mean_loss(model)
    exact = mean_loss(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float64).eval())
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([ftrain, "eval", "--model_name_or_path", model_dir, "--validation_file", data,
                        "--text_column_name", column, "--block_size", str(block), "--max_eval_samples",
                        str(max_blocks), "--output_dir", out, "--quiet"], check=True)
        ours = json.load(open(os.path.join(out, "eval_results.json")))["eval_loss"]
        gen = os.path.join(out, "gen.jsonl")
        subprocess.run([ftrain, "generate", "--model_name_or_path", model_dir, "--max_new_tokens", "24", "--quiet",
                        "--output_file", gen] + [a for p in PROMPTS for a in ("--prompt", p)], check=True)
        ours_gen = [json.loads(line)["tokens"] for line in open(gen)]
        subprocess.run([ftrain, "generate", "--model_name_or_path", model_dir, "--max_new_tokens", "4", "--quiet",
                        "--output_logits", "--output_file", gen] + [a for p in PROMPTS for a in ("--prompt", p)],
                       check=True)
        ours_logits = [torch.tensor(json.loads(line)["logits"]) for line in open(gen)]
    rel, hf_rel = abs(ours - exact) / exact, abs(hf_loss - exact) / exact
    print(f"eval loss on {len(blocks)} blocks of {block}: ftrain {ours:.7f}, transformers f32 {hf_loss:.7f}, "
          f"f64 {exact:.7f}; relative error ftrain {rel:.2e}, transformers f32 {hf_rel:.2e}")
    same = True
    eos = model.generation_config.eos_token_id
    worst = 0.0
    for p, g, lg in zip(PROMPTS, ours_gen, ours_logits):
        x = torch.tensor([tok.encode(p).ids])
        ref = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=24, do_sample=False,
                             eos_token_id=eos, pad_token_id=eos)[0, x.shape[1]:].tolist()
        print(f"greedy {p!r}: {'same' if ref == g else 'DIFFERENT'} ({len(g)} tokens)")
        same &= ref == g
        out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=4, do_sample=False,
                             eos_token_id=eos, pad_token_id=eos, output_logits=True, return_dict_in_generate=True)
        hf = torch.cat(out.logits, 0)
        n = min(len(hf), len(lg))
        worst = max(worst, ((lg[:n] - hf[:n]).abs().max() / hf[:n].abs().max()).item())
    print(f"logits of the first generation steps: max relative difference {worst:.2e}")
    same &= worst <= 1e-4
    ok = rel <= max(1e-5, 3 * hf_rel) and same
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
