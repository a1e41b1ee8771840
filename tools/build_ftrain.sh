#!/usr/bin/env bash
# Installs what is missing and builds the ftrain executable (CUDA on when nvcc is found): the first
# step of the end-to-end job scripts (tools/demo.sh, tools/train_cifar10.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -G Ninja -DFT_CUDA=AUTO >/dev/null
cmake --build build -j "${FT_JOBS:-$(nproc)}" --target ftrain
