#!/usr/bin/env python3
"""PyTorch's own f32 logits for the ResNet goldens (tests/golden/fixtures/resnet_*.safetensors, written by
gen_resnet.py): the same f32 weights and inputs run through transformers' model in f32, train and eval mode.
test_resnet.cpp bounds ftrain's f32 train-mode logits by this round-off, as it bounds the gradients by the
grad32.* tensors: in train mode every BatchNorm normalises 3 images, so f32 round-off in the convolutions is
amplified, and PyTorch's own f32 logits differ from the f64 reference by 1.7e-5 (basic).

  ~/.venvs/ftrain-gen/bin/python tests/golden/gen_resnet_f32.py
"""
import json
import os

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import ResNetConfig, ResNetForImageClassification

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.set_num_threads(1)
    for name in ["basic", "bottleneck"]:
        path = os.path.join(HERE, "fixtures", f"resnet_{name}.safetensors")
        with safe_open(path, "pt") as f:
            cfg = ResNetConfig(**json.loads(f.metadata()["config"]))
        fx = load_file(path)
        model = ResNetForImageClassification(cfg)
        model.load_state_dict({k[2:]: v for k, v in fx.items() if k.startswith("w.")})
        x = fx["pixel_values"].float()
        model.eval()
        with torch.no_grad():
            eval_logits = model(pixel_values=x).logits
        model.train()
        with torch.no_grad():
            train_logits = model(pixel_values=x).logits
        out = {"eval_logits32": eval_logits.contiguous(), "train_logits32": train_logits.contiguous()}
        save_file(out, os.path.join(HERE, "fixtures", f"resnet_{name}_f32.safetensors"))
        err = ((train_logits.double() - fx["train_logits"]).abs().max() / fx["train_logits"].abs().max()).item()
        print(name, f"PyTorch f32 train logits: relative error {err:.3g} against f64")


if __name__ == "__main__":
    main()
