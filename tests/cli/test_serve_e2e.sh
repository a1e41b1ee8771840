#!/usr/bin/env bash
# ftrain serve end to end: fine-tunes the real all-MiniLM-L6-v2 for a few steps on 64 Rotten
# Tomatoes reviews, then tests/cli/test_serve_e2e.py serves it (routes, errors, 200 concurrent
# requests against ftrain predict, SIGTERM under load, the API key, queue full). A model that fails
# to load fails at start with one error line.
set -uo pipefail
ftrain=$(realpath "$1")
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
source "$(dirname "$0")/common.sh"
[ -f "$data/rotten_tomatoes/train.csv" ] || fail "$data/rotten_tomatoes/train.csv missing: run tools/fetch_data.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check_error 1 "not a model directory" "$ftrain" serve --model_name_or_path "$tmp/none" --port 0
check_error 1 "--max_batch_size must be positive" "$ftrain" serve --model_name_or_path "$tmp/none" --max_batch_size 0
"$ftrain" train --model_name_or_path "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" \
  --max_train_samples 64 --per_device_train_batch_size 8 --max_seq_length 64 --max_steps 8 --learning_rate 1e-4 \
  --save_strategy no --disable_tqdm --quiet --output_dir "$tmp/model" > "$tmp/train.log" 2>&1 ||
  { cat "$tmp/train.log"; fail "training the model to serve failed"; }
python3 "$(dirname "$0")/test_serve_e2e.py" "$ftrain" "$tmp/model" "$data/rotten_tomatoes/test.csv"
