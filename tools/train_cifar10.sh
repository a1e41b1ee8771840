#!/usr/bin/env bash
# Image classification end to end: ResNet-18 from random initialisation on the CIFAR-10 subset
# (../shared/data/cifar10, or $FT_SHARED_DIR/data/cifar10) with configs/cifar10_resnet18.yaml,
# evaluated on its 2,000 test images after every epoch.
# Usage: bash tools/train_cifar10.sh [OUTPUT_DIR] [extra ftrain train options]   (default: runs/cifar10)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build_ftrain.sh
data="${FT_SHARED_DIR:-$(pwd)/../shared}/data/cifar10"
out="${1:-runs/cifar10}"
shift $(( $# > 0 ? 1 : 0 ))
./build/tools/ftrain train --config configs/cifar10_resnet18.yaml \
  --train_dir "$data/train" --validation_dir "$data/test" --output_dir "$out" --overwrite_output_dir "$@"
