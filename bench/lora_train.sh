#!/usr/bin/env bash
# LoRA against the peer a PEFT user runs, and against a full fine-tune, one after the other on this
# machine with the same data, batch and threads; every run under /usr/bin/time -v for its peak
# resident memory (the whole process: the Python interpreter and torch included on the peer's side).
#   bert (the speed claim): all-MiniLM-L6-v2 on Rotten Tomatoes train.csv, batch 32, max_seq_length
#        128, dynamic padding, lr 1e-3, LoRA r 8 / alpha 16 / dropout 0.05 on query and value (PEFT's
#        default for BERT), classifier trained fully; FT_BENCH_STEPS (60) steps: ftrain train --use_peft
#        vs PEFT + the HF Trainer, and the full fine-tune of both (lr 1e-4) for the memory comparison.
#   bert_bf16: the bert LoRA job in mixed precision (ftrain --bf16, whose LoRA keeps the frozen linear
#        weights in bf16, vs the Trainer's bf16=True), and ftrain's full fine-tune --bf16.
#   bert_accuracy: one epoch of each (LoRA lr 2e-3, full lr 1e-4, --group_by_length), accuracy on the
#        2,000 test reviews.
#   clm: SmolLM2-135M-Instruct on Reuters R8 in 128-token blocks, batch 4, FT_BENCH_CLM_STEPS (60) steps,
#        LoRA (q_proj/v_proj, lr 1e-3) vs the full fine-tune (lr 1e-4): held-out perplexity on 64 blocks
#        before and after, tokens/s and peak memory.
# Usage: bash bench/lora_train.sh [bert|bert_bf16|bert_accuracy|clm|all]   (env: FT_BENCH_THREADS=2, FT_GEN_VENV)
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-all}"
threads="${FT_BENCH_THREADS:-2}"
steps="${FT_BENCH_STEPS:-60}"
clm_steps="${FT_BENCH_CLM_STEPS:-60}"
source bench/peer_env.sh lora_train torch transformers peft

peak_mb() { sed -n 's/^\s*Maximum resident set size (kbytes): *//p' "$1" | awk '{printf "%.0f", $1 / 1024}'; }
# ftrain NAME ARGS...: a training run; prints "samples/s peak_MB"
ftrain_run() {
  local name=$1; shift
  /usr/bin/time -v -o "$tmp/$name.time" ./build/tools/ftrain train --output_dir "$tmp/$name" --overwrite_output_dir \
    --threads "$threads" --seed 42 --save_strategy no --logging_steps 20 --disable_tqdm "$@" >"$tmp/$name.log" 2>&1 ||
    { cat "$tmp/$name.log" >&2; exit 1; }
  echo "$(sed -n 's/^ *train_samples_per_second *//p' "$tmp/$name.log" | tail -1) $(peak_mb "$tmp/$name.time")"
}
peer_run() {
  local name=$1; shift
  OMP_NUM_THREADS="$threads" /usr/bin/time -v -o "$tmp/$name.time" "$py" bench/e2e_peer.py bert "$@" \
    --threads "$threads" --output_dir "$tmp/$name" 2>"$tmp/$name.log" >"$tmp/$name.out" || { cat "$tmp/$name.log" >&2; exit 1; }
  echo "$(tail -1 "$tmp/$name.out" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["samples_per_second"])') $(peak_mb "$tmp/$name.time")"
}
line() {  # label "sps mb" [extra]
  read -r sps mb <<<"$2"
  printf '%-34s %8.1f samples/s  peak %6s MB  %s\n' "$1" "$sps" "$mb" "${3:-}"
}
ratio() { "$py" -c "import sys; print(f'{float(sys.argv[1].split()[0]) / float(sys.argv[2].split()[0]):.2f}x')" "$1" "$2"; }

minilm=(--model_name_or_path "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" --per_device_train_batch_size 32
        --max_seq_length 128)
lora=(--use_peft --lora_r 8 --lora_alpha 16 --lora_dropout 0.05)
if [ "$job" = bert ] || [ "$job" = all ]; then
  ft_lora=$(ftrain_run ft_lora "${minilm[@]}" "${lora[@]}" --max_steps "$steps" --learning_rate 1e-3 --eval_strategy no)
  hf_lora=$(peer_run hf_lora --model "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" --steps "$steps" \
    --batch_size 32 --max_seq_length 128 --learning_rate 1e-3 --lora_r 8 --lora_alpha 16 --lora_dropout 0.05)
  ft_full=$(ftrain_run ft_full "${minilm[@]}" --max_steps "$steps" --learning_rate 1e-4 --eval_strategy no)
  hf_full=$(peer_run hf_full --model "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" --steps "$steps" \
    --batch_size 32 --max_seq_length 128 --learning_rate 1e-4)
  echo "bert, $steps steps of 32 (train samples/s over the training loop; peak resident memory of the process):"
  line "  ftrain LoRA" "$ft_lora"
  line "  PEFT + HF Trainer LoRA" "$hf_lora"
  line "  ftrain full fine-tune" "$ft_full"
  line "  HF Trainer full fine-tune" "$hf_full"
  echo "bert LoRA: ftrain / PEFT + HF Trainer = $(ratio "$ft_lora" "$hf_lora"); ftrain LoRA / ftrain full = $(ratio "$ft_lora" "$ft_full")"
fi
if [ "$job" = bert_bf16 ] || [ "$job" = all ]; then
  ft_lora=$(ftrain_run ft_lora_bf16 "${minilm[@]}" "${lora[@]}" --max_steps "$steps" --learning_rate 1e-3 --eval_strategy no --bf16)
  hf_lora=$(peer_run hf_lora_bf16 --model "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" --steps "$steps" \
    --batch_size 32 --max_seq_length 128 --learning_rate 1e-3 --lora_r 8 --lora_alpha 16 --lora_dropout 0.05 --bf16)
  ft_full=$(ftrain_run ft_full_bf16 "${minilm[@]}" --max_steps "$steps" --learning_rate 1e-4 --eval_strategy no --bf16)
  echo "bert_bf16 (--bf16 / bf16=True), $steps steps of 32:"
  line "  ftrain LoRA, base weights in bf16" "$ft_lora"
  line "  PEFT + HF Trainer LoRA" "$hf_lora"
  line "  ftrain full fine-tune" "$ft_full"
  echo "bert_bf16 LoRA: ftrain / PEFT + HF Trainer = $(ratio "$ft_lora" "$hf_lora")"
fi
if [ "$job" = bert_accuracy ] || [ "$job" = all ]; then
  acc() { sed -n 's/^ *eval_accuracy *//p' "$tmp/$1.log" | tail -1; }
  common=("${minilm[@]}" --validation_file "$data/rotten_tomatoes/test.csv" --num_train_epochs 1 --group_by_length
          --eval_strategy epoch)
  a_lora=$(ftrain_run acc_lora "${common[@]}" "${lora[@]}" --learning_rate 2e-3)
  a_full=$(ftrain_run acc_full "${common[@]}" --learning_rate 1e-4)
  echo "bert_accuracy, 1 epoch (336 steps of 32), accuracy on the 2,000 test reviews:"
  line "  ftrain LoRA (lr 2e-3)" "$a_lora" "accuracy $(acc acc_lora)"
  line "  ftrain full fine-tune (lr 1e-4)" "$a_full" "accuracy $(acc acc_full)"
fi
if [ "$job" = clm ] || [ "$job" = all ]; then
  clm=(--model_name_or_path "$data/smollm2/hf" --train_file "$data/reuters_r8/reuters-r8-train.tab"
       --validation_file "$data/reuters_r8/reuters-r8-test.tab" --text_column_name Text --block_size 128
       --per_device_train_batch_size 4 --max_steps "$clm_steps" --warmup_ratio 0.1 --max_eval_samples 64
       --eval_strategy steps --eval_steps "$clm_steps" --eval_on_start)
  c_lora=$(ftrain_run clm_lora "${clm[@]}" "${lora[@]}" --learning_rate 1e-3)
  c_full=$(ftrain_run clm_full "${clm[@]}" --learning_rate 1e-4)
  ppl() {  # perplexity before -> after, and training tokens/s over train_runtime
    "$py" - "$tmp/$1.log" "$tmp/$1/all_results.json" "$clm_steps" <<'PY'
import json, math, re, sys
before = float(re.search(r"evaluation before training\s+eval_loss\s+([0-9.]+)", open(sys.argv[1]).read()).group(1))
res = json.load(open(sys.argv[2]))
print(f"perplexity {math.exp(before):.2f} -> {res['eval_perplexity']:.2f}, "
      f"{int(sys.argv[3]) * 4 * 128 / res['train_runtime']:.1f} tokens/s")
PY
  }
  echo "clm, $clm_steps steps of 4 x 128-token blocks (samples are blocks), held-out perplexity on 64 blocks:"
  line "  ftrain LoRA (lr 1e-3)" "$c_lora" "$(ppl clm_lora)"
  line "  ftrain full fine-tune (lr 1e-4)" "$c_full" "$(ppl clm_full)"
fi
