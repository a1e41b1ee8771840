"""Reads the TensorBoard event files of an ftrain output directory with TensorBoard's own loader
(tensorboard.backend.event_processing.EventAccumulator) and prints every scalar tag with its points,
then checks the tags a training run must have.

Usage: python tools/check_tensorboard.py OUTPUT_DIR   (a venv with tensorboard: tools/setup_generator_env.sh)
"""
import glob
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> int:
    out = sys.argv[1]
    runs = sorted(glob.glob(os.path.join(out, "runs", "*")))
    if not runs:
        print(f"no runs/ directory under {out}")
        return 1
    acc = EventAccumulator(runs[-1])
    acc.Reload()
    tags = acc.Tags()["scalars"]
    print(f"TensorBoard {runs[-1]}: {len(tags)} scalar tags")
    for tag in sorted(tags):
        ev = acc.Scalars(tag)
        pts = ", ".join(f"{e.step}:{e.value:.4g}" for e in ev[:6]) + (" ..." if len(ev) > 6 else "")
        print(f"  {tag:32s} {len(ev):4d} points  {pts}")
    missing = [t for t in ("train/loss", "train/learning_rate", "train/grad_norm") if t not in tags]
    if missing:
        print(f"missing tags: {missing}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
