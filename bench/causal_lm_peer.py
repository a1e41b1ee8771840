#!/usr/bin/env python3
"""The peer of bench/causal_lm_smollm2.sh: the Hugging Face Trainer (transformers 5.23.0, PyTorch on
the CPU) on the same job: SmolLM2-135M from the same converted directory, Reuters R8 training texts
tokenized with its tokenizer.json, concatenated and cut into blocks of 128 (run_clm's group_texts),
batch 4, AdamW at 1e-4 with 10% of the steps warming up (warmup_steps; transformers 5 has no warmup_ratio), the same number of steps; held-out perplexity on 64 blocks
of the test texts before and after. Prints train tokens/s.
Usage: causal_lm_peer.py MODEL_DIR DATA_DIR [STEPS]"""
import csv
import math
import sys
import time

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments


def blocks_of(path, tok, block):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    i = rows[0].index("Text")
    ids = [t for r in rows[3:] if r for t in tok.encode(r[i]).ids]
    return [ids[k:k + block] for k in range(0, len(ids) - block + 1, block)]


def main():
    model_dir, data, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 60
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    train = [{"input_ids": b, "labels": b} for b in blocks_of(f"{data}/reuters_r8/reuters-r8-train.tab", tok, 128)]
    test = [{"input_ids": b, "labels": b} for b in blocks_of(f"{data}/reuters_r8/reuters-r8-test.tab", tok, 128)][:64]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    args = TrainingArguments(output_dir="/tmp/ftrain_peer_clm", per_device_train_batch_size=4,
                             per_device_eval_batch_size=8, max_steps=steps, learning_rate=1e-4, warmup_steps=round(0.1 * steps),
                             logging_steps=10, save_strategy="no", report_to=[], use_cpu=True, seed=42,
                             dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=test)
    before = trainer.evaluate()["eval_loss"]
    t0 = time.time()
    out = trainer.train()
    runtime = out.metrics["train_runtime"]
    after = trainer.evaluate()["eval_loss"]
    tokens = steps * 4 * 128
    print(f"peer (HF Trainer, torch {torch.__version__}, {torch.get_num_threads()} threads): perplexity before "
          f"{math.exp(before):.2f}, after {math.exp(after):.2f}; train {runtime:.1f} s for {tokens} tokens = "
          f"{tokens / runtime:.1f} tokens/s; wall {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
