#!/usr/bin/env bash
# The main job until the ftrain CLI exists: installs, builds, and runs ftrain-demo, a small training
# run of the engine core (see tools/demo_core.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -G Ninja -DFT_CUDA=AUTO >/dev/null
cmake --build build -j "${FT_JOBS:-$(nproc)}" --target ftrain-demo
./build/tools/ftrain-demo
