#!/usr/bin/env python3
"""Checks a LoRA adapter directory that `ftrain train --use_peft` wrote against Hugging Face PEFT:
  - PeftModel.from_pretrained loads it onto the base model (transformers' AutoModelFor...), with the
    classifier's labels from labels.json, and its logits equal ftrain's: `ftrain predict --adapter`
    (a classifier; JSON-lines predictions carry the logits) or `ftrain generate --adapter
    --output_logits` (a causal LM; the first 4 greedy steps) on the same inputs, within 1e-4 relative
    of the largest logit (both f32);
  - `ftrain merge` (run here) equals PEFT's merge_and_unload: every tensor of the merged
    model.safetensors within 1e-6 relative (f32 rounding), none missing or extra.
Usage (the tools venv, tools/setup_generator_env.sh):
  check_peft.py FTRAIN BASE_DIR ADAPTER_DIR seq-cls DATA.csv   (texts in the 'text' column, first 32 used)
  check_peft.py FTRAIN BASE_DIR ADAPTER_DIR causal-lm
Prints OK or MISMATCH (exit status 0 or 1)."""
import csv
import json
import os
import subprocess
import sys
import tempfile

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

PROMPTS = ["The company said", "Oil prices rose", "In a statement, the bank"]


def relative(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def peft_model(kind, base, adapter):
    if kind == "seq-cls":
        labels = json.load(open(os.path.join(adapter, "labels.json")))
        id2label = {int(k): v for k, v in labels["id2label"].items()}
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(id2label), id2label=id2label, label2id=labels["label2id"], dtype=torch.float32)
    else:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    return PeftModel.from_pretrained(model, adapter).eval()


def check_logits(ftrain, kind, base, adapter, data, out, model):
    if kind == "seq-cls":
        pred = os.path.join(out, "pred.jsonl")
        subprocess.run([ftrain, "predict", "--model_name_or_path", base, "--adapter", adapter, "--test_file", data,
                        "--max_predict_samples", "32", "--output_file", pred, "--quiet"], check=True)
        rows = [json.loads(line) for line in open(pred)]
        tok = AutoTokenizer.from_pretrained(base)
        worst = 0.0
        with torch.no_grad():
            for r in rows:
                x = tok(r["text"], return_tensors="pt", truncation=True, max_length=128)
                worst = max(worst, relative(torch.tensor(r["logits"]), model(**x).logits[0]))
        print(f"PeftModel.from_pretrained vs ftrain predict --adapter on {len(rows)} texts: "
              f"logits max relative difference {worst:.2e}")
        return worst
    gen = os.path.join(out, "gen.jsonl")
    subprocess.run([ftrain, "generate", "--model_name_or_path", base, "--adapter", adapter, "--max_new_tokens", "4",
                    "--quiet", "--output_logits", "--output_file", gen] + [a for p in PROMPTS for a in ("--prompt", p)],
                   check=True)
    ours = [json.loads(line) for line in open(gen)]
    tok = AutoTokenizer.from_pretrained(base)
    worst = 0.0
    eos = model.generation_config.eos_token_id
    for p, o in zip(PROMPTS, ours):
        x = torch.tensor([o["prompt_tokens"]]) if "prompt_tokens" in o else tok(p, return_tensors="pt").input_ids
        res = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=4, do_sample=False,
                             eos_token_id=eos, pad_token_id=eos, output_logits=True, return_dict_in_generate=True)
        hf = torch.cat(res.logits, 0)
        lg = torch.tensor(o["logits"])
        n = min(len(hf), len(lg))
        worst = max(worst, relative(lg[:n], hf[:n]))
        print(f"greedy {p!r}: PEFT {res.sequences[0, x.shape[1]:].tolist()}, ftrain {o['tokens']}")
    print(f"PeftModel.from_pretrained vs ftrain generate --adapter: logits of 4 steps, max relative difference "
          f"{worst:.2e}")
    return worst


def check_merge(ftrain, base, adapter, out, model):
    merged_dir = os.path.join(out, "merged")
    subprocess.run([ftrain, "merge", "--model_name_or_path", base, "--adapter", adapter, "--output_dir", merged_dir],
                   check=True)
    ours = load_file(os.path.join(merged_dir, "model.safetensors"))
    theirs = {k: v for k, v in model.merge_and_unload().state_dict().items()}
    ok = True
    worst = 0.0
    for k, v in theirs.items():
        if k not in ours:
            if "position_ids" in k or (k == "lm_head.weight" and "model.embed_tokens.weight" in ours):
                continue  # buffers transformers does not save; a tied head
            print("merged: missing", k)
            ok = False
            continue
        worst = max(worst, relative(ours[k].float(), v.float()))
    extra = [k for k in ours if k not in theirs]
    if extra:
        print("merged: extra tensors", extra[:4])
        ok = False
    print(f"ftrain merge vs PEFT merge_and_unload: {len(ours)} tensors, max relative difference {worst:.2e}")
    return ok and worst <= 1e-6


def main():
    ftrain, base, adapter, kind = sys.argv[1:5]
    data = sys.argv[5] if len(sys.argv) > 5 else None
    model = peft_model(kind, base, adapter)
    with tempfile.TemporaryDirectory() as out:
        worst = check_logits(ftrain, kind, base, adapter, data, out, model)
        merged_ok = check_merge(ftrain, base, adapter, out, model)
    ok = worst <= 1e-4 and merged_ok
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
