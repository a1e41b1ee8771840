#!/usr/bin/env bash
# End-to-end training throughput, ftrain against the peer a PyTorch user would run, one after the
# other on this machine with the same data, batch, thread count and step count:
#   bert:   all-MiniLM-L6-v2 on Rotten Tomatoes train.csv, batch 32, max_seq_length 128, dynamic
#           padding, no group_by_length, lr 1e-4; ftrain train vs the Hugging Face Trainer (f32, CPU).
#   resnet: configs/resnet18-cifar10 on CIFAR-10 32x32, batch 64, no augmentation; ftrain train
#           (its data loader included) vs a plain PyTorch loop on random tensors (no loader).
#   bert_bf16: the bert job in mixed precision: ftrain train --bf16 vs the Trainer's bf16=True.
# Both sides report train samples per second over the whole training loop; the ratio is ftrain / peer.
# Usage: bash bench/e2e_train.sh [bert|bert_bf16|resnet|all]   (env: FT_BENCH_THREADS=2, FT_BENCH_BERT_STEPS=60,
#        FT_BENCH_RESNET_STEPS=60, FT_GEN_VENV=~/.venvs/ftrain-gen; needs tools/setup_generator_env.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-all}"
threads="${FT_BENCH_THREADS:-2}"
bert_steps="${FT_BENCH_BERT_STEPS:-60}"
resnet_steps="${FT_BENCH_RESNET_STEPS:-60}"
cifar="${FT_SHARED_DIR:-$(pwd)/../shared}/data/cifar10"
source bench/peer_env.sh e2e_train torch transformers

ftrain_sps() {  # the train_samples_per_second of an ftrain train run's summary
  ./build/tools/ftrain train --output_dir "$tmp/ft" --overwrite_output_dir --threads "$threads" --seed 42 \
    --save_strategy no --eval_strategy no --logging_steps 20 --quiet "$@" >"$tmp/ft.log" 2>&1 ||
    { cat "$tmp/ft.log" >&2; exit 1; }
  sed -n 's/^ *train_samples_per_second *//p' "$tmp/ft.log"
}
peer_sps() {
  OMP_NUM_THREADS="$threads" "$py" bench/e2e_peer.py "$@" --threads "$threads" --output_dir "$tmp/hf" 2>"$tmp/peer.log" |
    tail -1 | "$py" -c 'import json,sys; print(json.load(sys.stdin)["samples_per_second"])' ||
    { cat "$tmp/peer.log" >&2; exit 1; }
}
report() {  # job ftrain peer peer_name
  "$py" -c "import sys; f, p = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]}: ftrain {f:.1f} / {sys.argv[4]} {p:.1f} samples/s = {f / p:.2f}x')" "$@"
}

if [ "$job" = bert ] || [ "$job" = all ]; then
  common=(--per_device_train_batch_size 32 --max_seq_length 128 --learning_rate 1e-4)
  ft=$(ftrain_sps --model_name_or_path "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" \
    --max_steps "$bert_steps" "${common[@]}")
  hf=$(peer_sps bert --model "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" --steps "$bert_steps" \
    --batch_size 32 --max_seq_length 128 --learning_rate 1e-4)
  report bert "$ft" "$hf" "HF Trainer"
fi
if [ "$job" = bert_bf16 ] || [ "$job" = all ]; then
  common=(--per_device_train_batch_size 32 --max_seq_length 128 --learning_rate 1e-4)
  ft=$(ftrain_sps --model_name_or_path "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" \
    --max_steps "$bert_steps" "${common[@]}" --bf16)
  hf=$(peer_sps bert --model "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" --steps "$bert_steps" \
    --batch_size 32 --max_seq_length 128 --learning_rate 1e-4 --bf16)
  report bert_bf16 "$ft" "$hf" "HF Trainer bf16"
fi
if [ "$job" = resnet ] || [ "$job" = all ]; then
  ft=$(ftrain_sps --config_name configs/resnet18-cifar10 --train_dir "$cifar/train" --max_steps "$resnet_steps" \
    --per_device_train_batch_size 64 --learning_rate 2e-3 --weight_decay 0.05 --image_size 32 \
    --random_resized_crop_min_scale 0 --horizontal_flip_probability 0)
  pt=$(peer_sps resnet --config configs/resnet18-cifar10 --steps "$resnet_steps" --batch_size 64 --image_size 32)
  report resnet "$ft" "$pt" "PyTorch"
fi
