#!/usr/bin/env python3
"""The tiny BERT of gen_bert_tiny.py (single-label, 3 classes) trained 5 AdamW steps on the CPU under
torch.autocast("cpu", dtype=torch.bfloat16), as the Hugging Face Trainer's bf16=True runs it: f32
parameters, the forward and the loss under autocast, the backward and the optimizer outside it; and
again under float16 with torch.amp.GradScaler (its defaults), as fp16=True runs it (the gradients
recorded after unscale_).
Dropout is off (eval mode) so the run is deterministic. The same 5 steps in plain f32 are stored too,
so the test can measure ftrain's bf16 run against PyTorch's on the scale of bf16's own effect.
Writes tests/golden/fixtures/bert_tiny_autocast_{bf16,fp16}.safetensors: initial weights, inputs, labels, the
loss of each step, every gradient of step 1, every weight after step 5 (prefixes: w., grad., final.;
the f32 run's under f32loss, f32grad., f32final.). Run in the generator venv (torch 2.15, transformers 5.23)."""
import os

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForSequenceClassification

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS, LR, WD = 5, 1e-3, 0.01


def groups(model):
    # The Trainer's weight-decay groups: no decay on biases and LayerNorm weights.
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    rest = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    return [{"params": decay, "weight_decay": WD}, {"params": rest, "weight_decay": 0.0}]


def train(init, batch, low):
    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=37, max_position_embeddings=64, num_labels=3,
                     problem_type="single_label_classification", attn_implementation="sdpa")
    model = BertForSequenceClassification(cfg).eval()
    model.load_state_dict(init)
    opt = torch.optim.AdamW(groups(model), lr=LR, betas=(0.9, 0.999), eps=1e-8)
    scaler = torch.amp.GradScaler("cpu", enabled=low == torch.float16)
    losses, grads = [], {}
    for step in range(STEPS):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=low or torch.float32, enabled=low is not None):
            loss = model(**batch).loss
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        if step == 0:
            grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
        scaler.step(opt)
        scaler.update()
        losses.append(float(loss.detach()))
    if low == torch.float16:
        print("fp16 loss scale after", STEPS, "steps:", scaler.get_scale())
    final = {n: p.detach().clone() for n, p in model.named_parameters()}
    return torch.tensor(losses, dtype=torch.float64), grads, final


def main():
    torch.manual_seed(7)
    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=37, max_position_embeddings=64, num_labels=3,
                     problem_type="single_label_classification")
    init = {n: p.detach().clone() for n, p in BertForSequenceClassification(cfg).state_dict().items()}
    ids = torch.randint(1, 99, (4, 9))
    mask = torch.ones(4, 9, dtype=torch.int64)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    ids = ids * mask
    types = torch.zeros(4, 9, dtype=torch.int64)
    types[0, 5:] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": torch.tensor([2, 0, 1, 1])}
    f32 = train(init, batch, None)
    for low, name in ((torch.bfloat16, "bf16"), (torch.float16, "fp16")):
        fx = {k: v for k, v in batch.items()}
        fx.update({"w." + n: p for n, p in init.items() if "position_ids" not in n})
        for (losses, grads, final), tag in ((train(init, batch, low), ""), (f32, "f32")):
            fx[tag + "loss"] = losses
            fx.update({f"{tag}grad." + n: g for n, g in grads.items()})
            fx.update({f"{tag}final." + n: w for n, w in final.items()})
            print(name if not tag else "f32", [round(x, 6) for x in losses.tolist()])
        save_file({k: v.contiguous() for k, v in fx.items()},
                  os.path.join(HERE, "fixtures", f"bert_tiny_autocast_{name}.safetensors"), metadata={"format": "pt"})

if __name__ == "__main__":
    main()
