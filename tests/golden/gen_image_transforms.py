#!/usr/bin/env python3
"""Pillow's resizing of a real CIFAR-10 image, for test_transforms.cpp (run in the generator venv with
Pillow 13 installed). The decoded input pixels are stored too, so the test checks resampling alone
(Pillow's and stb_image's JPEG decoders may differ slightly)."""
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..", "..", "shared", "data", "cifar10", "train", "airplane", "0000.jpg")


def main():
    img = Image.open(SRC).convert("RGB")
    out = {"input": torch.from_numpy(np.asarray(img).copy())}
    cases = {"bicubic_224x224": (224, 224, Image.BICUBIC), "bilinear_20x20": (20, 20, Image.BILINEAR),
             "bilinear_48x40": (48, 40, Image.BILINEAR), "bicubic_16x13": (16, 13, Image.BICUBIC),
             "bicubic_70x50": (70, 50, Image.BICUBIC)}
    for name, (h, w, f) in cases.items():
        out[name] = torch.from_numpy(np.asarray(img.resize((w, h), resample=f)).copy())
    save_file(out, os.path.join(HERE, "fixtures", "pillow_resize.safetensors"), metadata={"pillow": Image.__version__})


if __name__ == "__main__":
    main()
