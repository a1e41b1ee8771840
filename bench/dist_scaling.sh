#!/usr/bin/env bash
# Weak scaling of data-parallel training on the CPU: the BERT job (all-MiniLM-L6-v2 on Rotten
# Tomatoes, per-device batch 16, sequence 64) as 1 process with 1 thread and as 2 MPI ranks with
# 1 thread each, the same per-device batch (so 2 ranks train twice the examples per step).
# Efficiency = samples/s(2 ranks) / (2 x samples/s(1 rank)); 1.0 is perfect. Also prints the MPI
# all-reduce bus bandwidth on this machine (bench/bench_allreduce.cpp).
#   bash bench/dist_scaling.sh [build dir] [steps]
set -euo pipefail
build=$(realpath "${1:-build}")
steps=${2:-30}
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1)
job=(train --model_name_or_path "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" --max_train_samples 2048
     --per_device_train_batch_size 16 --max_seq_length 64 --max_steps "$steps" --save_strategy no --logging_steps 1000
     --device cpu --disable_tqdm --quiet --seed 42)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
OMP_NUM_THREADS=1 "$build/tools/ftrain" "${job[@]}" --output_dir "$tmp/one" > /dev/null
"${mpirun[@]}" -np 2 "$build/tools/ftrain" "${job[@]}" --output_dir "$tmp/two" > /dev/null
sps() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['train_samples_per_second'])" "$1/train_results.json"; }
one=$(sps "$tmp/one") two=$(sps "$tmp/two")
python3 - "$one" "$two" <<'PY'
import sys
one, two = map(float, sys.argv[1:])
print(f"1 rank x 1 thread: {one:.1f} samples/s; 2 ranks x 1 thread: {two:.1f} samples/s; "
      f"weak-scaling efficiency {two / (2 * one):.2f}")
PY
"${mpirun[@]}" -np 2 "$build/bench/ft_bench_allreduce" --max_mb 64
