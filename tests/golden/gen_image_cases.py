#!/usr/bin/env python3
"""JPEG cases for tests/io/test_images.cpp, made from one real CIFAR-10 image (../shared/data/cifar10,
train/airplane/0000.jpg), with Pillow's decoded pixels as the expected values.

  original.jpg          the image as it is
  arithmetic.jpg        the same coefficients, arithmetic-coded (jpegtran -arithmetic; Debian's
                        libjpeg-turbo-progs): Pillow reads it, stb_image does not
  junk_before_eoi.jpg   five bytes of junk before the end marker: libjpeg warns, Pillow decodes it
  truncated.jpg         the last two bytes (the end marker) cut: Pillow says "image file is truncated"
  truncated_scan.jpg    cut in the middle of the scan: truncated too
  bomb.jpg              the frame header patched to claim 60000 x 60000 pixels (the file stays 924 bytes)
  cmyk.jpg              Image.convert("CMYK").save(...): an Adobe CMYK JPEG
  pillow.safetensors    uint8 HWC pixels of Image.open(f).convert("RGB") for original.jpg and cmyk.jpg

Run in the generator venv with Pillow 13 and safetensors (tools/setup_generator_env.sh).
"""
import io
import os
import subprocess

import numpy as np
from PIL import Image
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "images")
SRC = os.path.join(HERE, "..", "..", "..", "shared", "data", "cifar10", "train", "airplane", "0000.jpg")


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    src = open(SRC, "rb").read()
    assert src[-2:] == b"\xff\xd9"
    write("original.jpg", src)
    write("arithmetic.jpg", subprocess.run(["jpegtran", "-arithmetic", SRC], check=True, capture_output=True).stdout)
    write("junk_before_eoi.jpg", src[:-2] + b"\x00junk" + src[-2:])
    write("truncated.jpg", src[:-2])
    write("truncated_scan.jpg", src[: len(src) * 2 // 3])
    sof = src.index(b"\xff\xc0")  # baseline frame header: FF C0, length(2), precision(1), height(2), width(2)
    write("bomb.jpg", src[: sof + 5] + (60000).to_bytes(2, "big") * 2 + src[sof + 9 :])
    buf = io.BytesIO()
    Image.open(io.BytesIO(src)).convert("RGB").convert("CMYK").save(buf, "JPEG", quality=95)
    write("cmyk.jpg", buf.getvalue())
    pixels = {}
    for name in ("original", "arithmetic", "junk_before_eoi", "cmyk"):
        im = Image.open(os.path.join(OUT, name + ".jpg"))
        pixels[name] = np.asarray(im.convert("RGB"), dtype=np.uint8)
    assert (pixels["arithmetic"] == pixels["original"]).all() and (pixels["junk_before_eoi"] == pixels["original"]).all()
    for name in ("truncated", "truncated_scan"):
        try:
            Image.open(os.path.join(OUT, name + ".jpg")).load()
            raise AssertionError(name + " decoded")
        except OSError:
            pass
    save_file({"original": pixels["original"], "cmyk": pixels["cmyk"]}, os.path.join(OUT, "pillow.safetensors"),
              metadata={"pillow": Image.__version__})


if __name__ == "__main__":
    main()
