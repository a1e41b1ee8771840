#!/usr/bin/env python3
"""Runs ft_bench_kernels and the same kernels in PyTorch (CPU, same thread count, same shapes) and
prints the time ratio for each. Needs torch (tools/setup_generator_env.sh makes a venv with it):

  ~/.venvs/ftrain-gen/bin/python bench/compare_torch.py build/bench/ft_bench_kernels

A ratio above 1 means ftrain is faster than PyTorch.
"""
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


def torch_time(fn, min_time=0.5):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        fn()
        n += 1
    return (time.perf_counter() - start) / n


def torch_cases():
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)
    cases = {}
    for m, n, k in [(512, 768, 768), (512, 3072, 768), (512, 768, 3072)]:
        a, b = r(m, k), r(n, k)
        cases[f"BM_sgemm_onednn/m:{m}/n:{n}/k:{k}/form:0"] = lambda a=a, b=b: a @ b.T
    # Outputs preallocated where torch allows it, as the ftrain kernels write into given buffers.
    x, y, c = torch.ones(1 << 24), torch.ones(1 << 24), torch.empty(1 << 24)
    cases["BM_add/16777216"] = lambda: torch.add(x, y, out=c)
    gx = torch.ones(512 * 3072)
    cases["BM_gelu/1572864"] = lambda: F.gelu(gx)
    sx = r(4 * 12 * 128, 128)
    cases["BM_softmax/6144/128"] = lambda: torch.softmax(sx, -1)
    lx, lw, lb = r(512, 768), torch.ones(768), torch.zeros(768)
    cases["BM_layer_norm_fwd/512/768"] = lambda: F.layer_norm(lx, (768,), lw, lb, 1e-12)
    lxg = lx.clone().requires_grad_()
    lwg, lbg = lw.clone().requires_grad_(), lb.clone().requires_grad_()
    ly = F.layer_norm(lxg, (768,), lwg, lbg, 1e-12)
    gy = r(512, 768)
    cases["BM_layer_norm_bwd/512/768"] = lambda: torch.autograd.grad(ly, (lxg, lwg, lbg), gy, retain_graph=True)
    p = torch.ones(1 << 23, requires_grad=True)
    p.grad = torch.ones(1 << 23)
    opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.01, foreach=False)
    cases["BM_adamw/8388608"] = opt.step
    z = r(512, 30522).requires_grad_()
    t = torch.arange(512) % 30522
    def ce():
        loss = F.cross_entropy(z, t)
        torch.autograd.grad(loss, z)
    cases["BM_cross_entropy/512/30522"] = ce
    for nb, ch, hw in [(64, 64, 8), (64, 128, 4)]:
        ix = r(nb, ch, hw, hw)
        cases[f"BM_im2col/{nb}/{ch}/{hw}"] = lambda ix=ix: F.unfold(ix, 3, padding=1)
        cols = r(nb, ch * 9, hw * hw)
        cases[f"BM_col2im/{nb}/{ch}/{hw}"] = lambda cols=cols, hw=hw: F.fold(cols, (hw, hw), 3, padding=1)
        cx, cw = r(nb, ch, hw, hw).requires_grad_(), r(ch, ch, 3, 3).requires_grad_()
        def conv(cx=cx, cw=cw):
            y = F.conv2d(cx, cw, padding=1)
            torch.autograd.grad(y, (cx, cw), torch.ones_like(y))
        cases[f"BM_conv2d_train/{nb}/{ch}/{hw}"] = conv
    return cases


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/bench/ft_bench_kernels"
    out = subprocess.run([binary, "--benchmark_format=json"], check=True, capture_output=True, text=True)
    ours = {b["name"]: b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
            for b in json.loads(out.stdout)["benchmarks"]}
    torch.set_num_threads(os.cpu_count())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; ratio = torch time / ftrain time")
    print(f"{'benchmark':32} {'ftrain ms':>10} {'torch ms':>10} {'ratio':>7}")
    for name, fn in torch_cases().items():
        if name not in ours:
            continue
        t = torch_time(fn)
        print(f"{name:32} {ours[name] * 1e3:10.3f} {t * 1e3:10.3f} {t / ours[name]:7.2f}")


if __name__ == "__main__":
    main()
