#!/usr/bin/env python3
"""The PyTorch side of bench/e2e_train.sh: the two end-to-end jobs as a PyTorch user runs them.

  bert:   the Hugging Face Trainer fine-tuning all-MiniLM-L6-v2 on Rotten Tomatoes train.csv (dynamic
          padding, no group_by_length, f32 on the CPU, or bf16=True with --bf16), the Trainer's own
          train_samples_per_second; with --lora_r, PEFT's LoRA (SEQ_CLS, PEFT's default targets).
  resnet: transformers' ResNetForImageClassification with configs/resnet18-cifar10, a plain PyTorch loop
          (AdamW, cross-entropy) on random 32x32 tensors: no data loader, so this is PyTorch's best case.

Prints one JSON line: {"job": ..., "samples_per_second": ...}. Needs torch and transformers (the venv of
tools/setup_generator_env.sh).
"""
import argparse
import csv
import json
import os
import sys
import time


def bert(a):
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)
    torch.set_num_threads(a.threads)
    with open(a.train_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    labels = sorted({r["label"] for r in rows})
    label2id = {l: i for i, l in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(a.model)
    enc = tok([r["text"] for r in rows], truncation=True, max_length=a.max_seq_length)
    data = [{"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i],
             "attention_mask": enc["attention_mask"][i], "labels": label2id[r["label"]]} for i, r in enumerate(rows)]
    model = AutoModelForSequenceClassification.from_pretrained(
        a.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    if a.lora_r > 0:  # PEFT's LoRA with the SEQ_CLS task type (the classifier trains fully)
        from peft import LoraConfig, TaskType, get_peft_model
        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=a.lora_r, lora_alpha=a.lora_alpha,
                                                 lora_dropout=a.lora_dropout))
    args = TrainingArguments(output_dir=a.output_dir, per_device_train_batch_size=a.batch_size,
                             learning_rate=a.learning_rate, max_steps=a.steps, use_cpu=True, seed=42,
                             report_to="none", save_strategy="no", eval_strategy="no", logging_steps=20,
                             dataloader_num_workers=0, disable_tqdm=True, bf16=a.bf16)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tok))
    metrics = trainer.train().metrics
    return metrics["train_samples_per_second"]


def resnet(a):
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    with open(os.path.join(a.config, "config.json")) as f:
        cfg = ResNetConfig(**{k: v for k, v in json.load(f).items() if k != "architectures"}, num_labels=10)
    model = ResNetForImageClassification(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size)
    y = torch.randint(0, 10, (a.batch_size,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(pixel_values=x, labels=y).loss
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up (the Trainer-free loop has no other start-up cost to count)
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    return a.steps * a.batch_size / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("job", choices=["bert", "resnet"])
    p.add_argument("--model")
    p.add_argument("--train_file")
    p.add_argument("--config")
    p.add_argument("--output_dir", default="/tmp/ftrain-bench-hf")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--max_seq_length", type=int, default=128)
    p.add_argument("--learning_rate", type=float, default=1e-4)
    p.add_argument("--image_size", type=int, default=32)
    p.add_argument("--bf16", action="store_true", help="bert: the Trainer's bf16=True (autocast on the CPU)")
    p.add_argument("--lora_r", type=int, default=0, help="bert: PEFT LoRA of this rank (0: full fine-tune)")
    p.add_argument("--lora_alpha", type=float, default=16)
    p.add_argument("--lora_dropout", type=float, default=0.05)
    a = p.parse_args()
    sps = bert(a) if a.job == "bert" else resnet(a)
    print(json.dumps({"job": a.job, "samples_per_second": round(sps, 2)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
