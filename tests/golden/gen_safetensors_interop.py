#!/usr/bin/env python3
"""Writes safetensors fixtures with the PyPI safetensors package (run in the generator venv).

pypi_all_dtypes.safetensors: one tensor per loadable dtype (F64 F32 BF16 F16 I64 I32 I16 I8 U8 BOOL),
plus an empty and a rank-0 tensor. test_safetensors_interop.cpp reads it and checks every value.
pypi_writable.safetensors: the dtypes ftrain writes; ftrain must write the same tensors byte for
byte (so the PyPI package reads what ftrain writes). Values are small integers and halves, exact in
every dtype; the C++ test rebuilds them from the same formula: value[i] = (i % 7) * 0.5 - 1.
"""
import os

import numpy as np
import torch
from safetensors.torch import save_file


def values(n, dtype):
    v = torch.tensor([(i % 7) * 0.5 - 1 for i in range(n)], dtype=torch.float64)
    if dtype in (torch.int64, torch.int32, torch.int16, torch.int8):
        v = torch.tensor([(i % 7) - 3 for i in range(n)], dtype=torch.float64)
    if dtype == torch.uint8:
        v = torch.tensor([(i * 37) % 256 for i in range(n)], dtype=torch.float64)
    if dtype == torch.bool:
        v = torch.tensor([i % 3 == 0 for i in range(n)], dtype=torch.float64)
    return v.to(dtype)


def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    all_dtypes = {
        "f64": values(6, torch.float64).reshape(2, 3),
        "f32": values(12, torch.float32).reshape(3, 4),
        "bf16": values(5, torch.bfloat16),
        "f16": values(4, torch.float16).reshape(2, 2),
        "i64": values(3, torch.int64),
        "i32": values(7, torch.int32),
        "i16": values(5, torch.int16),
        "i8": values(6, torch.int8),
        "u8": values(9, torch.uint8),
        "bool": values(4, torch.bool),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
    }
    save_file(all_dtypes, os.path.join(here, "pypi_all_dtypes.safetensors"), metadata={"format": "pt"})
    writable = {k: v for k, v in all_dtypes.items() if k not in ("i16", "i8", "u8")}
    save_file(writable, os.path.join(here, "pypi_writable.safetensors"), metadata={"format": "pt"})
    print("wrote", len(all_dtypes), "and", len(writable), "tensors")


if __name__ == "__main__":
    main()
