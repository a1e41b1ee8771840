#!/usr/bin/env python3
"""Writes tests/golden/fixtures/core_composite.safetensors with PyTorch.

A composite model (embedding -> linear -> gelu -> layer_norm -> linear -> cross-entropy with one
ignored label and label smoothing) on a small batch: inputs, initial parameters, the loss, every
parameter gradient, and the parameters and losses of 5 AdamW steps with the Hugging Face parameter
groups, a linear warmup/decay schedule and gradient clipping. The C++ test
(test_core_golden.cpp) rebuilds the same model from these tensors and compares every one by name.

Run once, in a virtual environment outside the repository (CI never needs torch):
  python3 -m venv ~/.venvs/ftrain-gen && ~/.venvs/ftrain-gen/bin/pip install torch safetensors
  ~/.venvs/ftrain-gen/bin/python tests/golden/gen_core_golden.py
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

VOCAB, EMB, HIDDEN, CLASSES = 11, 8, 16, 5
BATCH, SEQ = 3, 4
LR, WEIGHT_DECAY, WARMUP, TOTAL, MAX_NORM, STEPS = 1e-2, 0.01, 2, 10, 1.0, 5
SMOOTHING, LN_EPS = 0.1, 1e-5


class Composite(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(VOCAB, EMB)
        self.fc1 = torch.nn.Linear(EMB, HIDDEN)
        self.ln = torch.nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.fc2 = torch.nn.Linear(HIDDEN, CLASSES)

    def forward(self, ids, labels):
        h = self.ln(F.gelu(self.fc1(self.emb(ids))))
        logits = self.fc2(h).reshape(-1, CLASSES)
        return F.cross_entropy(logits, labels.reshape(-1), ignore_index=-100, label_smoothing=SMOOTHING)


def batch(gen):
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen)
    labels = torch.randint(0, CLASSES, (BATCH, SEQ), generator=gen)
    labels[1, 2] = -100  # one ignored position
    return ids, labels


def main():
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    model = Composite().double().float()  # plain f32 parameters
    # Non-trivial LayerNorm affine parameters, so their gradients and updates are exercised.
    with torch.no_grad():
        model.ln.weight.add_(0.1 * torch.randn(HIDDEN))
        model.ln.bias.add_(0.1 * torch.randn(HIDDEN))
    out = {f"init.{n}": p.detach().clone() for n, p in model.named_parameters()}

    batches = [batch(gen) for _ in range(STEPS)]
    for k, (ids, labels) in enumerate(batches):
        out[f"batch{k}.input_ids"] = ids
        out[f"batch{k}.labels"] = labels

    # Step 0's loss and gradients, before any update.
    loss = model(*batches[0])
    loss.backward()
    out["loss"] = loss.detach().reshape(())
    for n, p in model.named_parameters():
        out[f"grad.{n}"] = p.grad.detach().clone()
    model.zero_grad()

    # Hugging Face grouping: no decay for biases and LayerNorm weights.
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or n.startswith("ln."))]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or n.startswith("ln.")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.999), eps=1e-8)

    def linear_warmup(step):
        if step < WARMUP:
            return step / max(1, WARMUP)
        return max(0.0, (TOTAL - step) / max(1, TOTAL - WARMUP))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_warmup)
    losses, norms = [], []
    for k in range(STEPS):
        loss = model(*batches[k])
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)))
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    out["step_losses"] = torch.tensor(losses, dtype=torch.float32)
    out["step_grad_norms"] = torch.tensor(norms, dtype=torch.float32)
    for n, p in model.named_parameters():
        out[f"final.{n}"] = p.detach().clone()

    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "fixtures", "core_composite.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    out = {k: v.contiguous() for k, v in out.items()}
    # One metadata key: the writer stores metadata in a hash map, so several keys come out in a
    # random order and the file would not be byte-for-byte reproducible.
    config = (f"generator=gen_core_golden.py torch={torch.__version__} smoothing={SMOOTHING} ln_eps={LN_EPS} "
              f"lr={LR} weight_decay={WEIGHT_DECAY} warmup={WARMUP} total={TOTAL} max_norm={MAX_NORM} steps={STEPS}")
    save_file(out, path, metadata={"config": config})
    print(f"wrote {path}: {len(out)} tensors, loss {float(out['loss']):.6f}, step losses {losses}")


if __name__ == "__main__":
    main()
