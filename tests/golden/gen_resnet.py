#!/usr/bin/env python3
"""ResNet goldens from transformers' ResNetForImageClassification (random initialisation), for two
narrow configurations: a resnet-18-like basic one (depths [2,2,2,2], hidden sizes [4,8,16,32],
embedding 8) and a bottleneck one (depths [1,2,1,1], hidden sizes [8,16,24,32], embedding 4,
downsample_in_bottleneck on one of the two). For each, on a 3x3x32x32 batch with 3 labels:
 - the checkpoint as transformers saves it (state dict incl. BatchNorm buffers, f32),
 - eval-mode logits and loss, and train-mode logits, loss and every parameter gradient (batch
   statistics), computed in f64 from the f32 weights,
 - the BatchNorm running statistics after that one train-mode forward (momentum 0.1),
 - PyTorch's own f32 gradients of the same step (the round-off an f32 engine is expected to show),
 - the same checkpoint under timm/torchvision names (conv1, bn1, layerN.j.convK, downsample, fc).
BatchNorm running statistics are first moved away from 0/1 (a few train-mode forwards on other
data) so that eval mode tests them. Writes tests/golden/fixtures/resnet_<name>.safetensors.
Run in the generator venv (transformers 5.23.0, torch 2.15.0)."""
import os
import re

import torch
from safetensors.torch import save_file
from transformers import ResNetConfig, ResNetForImageClassification

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = {
    "basic": dict(embedding_size=8, hidden_sizes=[4, 8, 16, 32], depths=[2, 2, 2, 2], layer_type="basic"),
    "bottleneck": dict(embedding_size=4, hidden_sizes=[8, 16, 24, 32], depths=[1, 2, 1, 1], layer_type="bottleneck",
                       downsample_in_bottleneck=True),
}


def timm_name(n):
    n = n.replace("resnet.embedder.embedder.convolution.", "conv1.")
    n = n.replace("resnet.embedder.embedder.normalization.", "bn1.")
    n = n.replace("classifier.1.", "fc.")
    m = re.match(r"resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.(.*)", n)
    if m:
        s, j, rest = int(m.group(1)), m.group(2), m.group(3)
        rest = re.sub(r"^layer\.(\d+)\.convolution\.", lambda k: f"conv{int(k.group(1)) + 1}.", rest)
        rest = re.sub(r"^layer\.(\d+)\.normalization\.", lambda k: f"bn{int(k.group(1)) + 1}.", rest)
        rest = rest.replace("shortcut.convolution.", "downsample.0.").replace("shortcut.normalization.", "downsample.1.")
        n = f"layer{s + 1}.{j}.{rest}"
    return n


def main():
    for k, (name, kw) in enumerate(CONFIGS.items()):
        torch.manual_seed(200 + k)
        cfg = ResNetConfig(num_channels=3, num_labels=3, **kw)
        model = ResNetForImageClassification(cfg)
        model.train()
        with torch.no_grad():  # move the running statistics away from their initial 0 and 1
            for _ in range(3):
                model(pixel_values=torch.randn(4, 3, 32, 32) * 1.5 + 0.3)
        state = {n: t.detach().clone().contiguous() for n, t in model.state_dict().items()}
        x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
        labels = torch.tensor([2, 0, 1])
        m64 = ResNetForImageClassification(cfg).double()
        m64.load_state_dict({n: (t.double() if t.is_floating_point() else t) for n, t in state.items()})
        m64.eval()
        with torch.no_grad():
            ev = m64(pixel_values=x, labels=labels)
        m64.train()
        out = m64(pixel_values=x, labels=labels)
        out.loss.backward()
        fx = {"pixel_values": x, "labels": labels, "eval_logits": ev.logits, "eval_loss": ev.loss.reshape(()),
              "train_logits": out.logits.detach(), "train_loss": out.loss.detach().reshape(())}
        for n, t in state.items():
            fx["w." + n] = t
            fx["timm." + timm_name(n)] = t.clone()
        for n, p in m64.named_parameters():
            fx["grad." + n] = p.grad.detach().clone()
        # PyTorch's own f32 gradients from the same weights, so the test can tell f32 round-off from error.
        m32 = ResNetForImageClassification(cfg)
        m32.load_state_dict(state)
        m32.train()
        m32(pixel_values=x.float(), labels=labels).loss.backward()
        for n, p in m32.named_parameters():
            fx["grad32." + n] = p.grad.detach().clone()
        for n, t in m64.state_dict().items():
            if "running_" in n:
                fx["after." + n] = t.detach().clone()
        save_file({n: t.contiguous() for n, t in fx.items()}, os.path.join(HERE, "fixtures", f"resnet_{name}.safetensors"),
                  metadata={"config": cfg.to_json_string(use_diff=True)})
        print(name, sum(p.numel() for p in model.parameters()), "parameters;", len(state), "state entries")


if __name__ == "__main__":
    main()
