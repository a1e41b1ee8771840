#!/usr/bin/env python3
"""torch.amp.GradScaler's state machine on a scripted run: a 4-element f32 parameter, loss
sum(p * x_t), plain SGD (lr 0.5), init_scale 1024, growth_interval 3, and 14 steps whose x_t holds an
inf (steps 2, 3, 9) or a NaN (step 12): the scale and growth tracker after each update, whether the
step was skipped, and the parameter after each step. Writes tests/golden/fixtures/grad_scaler.safetensors.
Run in the generator venv (torch 2.15)."""
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 14
BAD = {2: float("inf"), 3: float("inf"), 9: float("-inf"), 12: float("nan")}


def main():
    p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0, 0.25]))
    opt = torch.optim.SGD([p], lr=0.5)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
    xs, scales, trackers, skipped, params = [], [], [], [], []
    for t in range(STEPS):
        x = torch.tensor([0.1 * (t + 1), -0.2, 0.05 * t, 1.0])
        if t in BAD:
            x[1] = BAD[t]
        opt.zero_grad()
        loss = (p * x).sum()
        scaler.scale(loss).backward()
        before = p.detach().clone()
        scaler.step(opt)
        scaler.update()
        xs.append(x)
        scales.append(scaler.get_scale())
        trackers.append(scaler.state_dict()["_growth_tracker"])
        skipped.append(float(torch.equal(before, p.detach())))
        params.append(p.detach().clone())
    save_file({"x": torch.stack(xs), "scale": torch.tensor(scales, dtype=torch.float64),
               "growth_tracker": torch.tensor(trackers, dtype=torch.int64), "skipped": torch.tensor(skipped),
               "params": torch.stack(params)},
              os.path.join(HERE, "fixtures", "grad_scaler.safetensors"), metadata={"format": "pt"})
    print("scales", scales)
    print("skipped", skipped)


if __name__ == "__main__":
    main()
