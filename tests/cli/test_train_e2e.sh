#!/usr/bin/env bash
# ftrain train / eval / predict end to end on the real all-MiniLM-L6-v2 and a small subset of the
# Rotten Tomatoes split that tools/fetch_data.sh prepares: the output directory's contents, eval and
# predict, exact resume (CLI), Ctrl-C, and bad input: one clear error line, a non-zero exit status,
# and nothing already written lost.
set -uo pipefail
ftrain=$1
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
model=$data/minilm
rt=$data/rotten_tomatoes
source "$(dirname "$0")/common.sh"
[ -f "$rt/train.csv" ] || fail "$rt/train.csv missing: run tools/fetch_data.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
small=(--model_name_or_path "$model" --train_file "$rt/train.csv" --validation_file "$rt/test.csv"
       --max_train_samples 64 --max_eval_samples 48 --per_device_train_batch_size 8 --per_device_eval_batch_size 16
       --max_seq_length 64 --logging_steps 2 --disable_tqdm)

# ---- train: 6 steps, evaluation and checkpoints every 3, the newest 1 kept
out=$tmp/run
"$ftrain" train "${small[@]}" --output_dir "$out" --max_steps 6 --eval_strategy steps --eval_steps 3 \
  --save_steps 3 --save_total_limit 1 --learning_rate 5e-5 > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "train exited $?"; }
for f in config.json model.safetensors tokenizer.json vocab.txt trainer_state.json all_results.json eval_results.json \
         train_results.json metrics.jsonl training_curves.svg checkpoint-6/optimizer.safetensors \
         checkpoint-6/trainer_state.json checkpoint-6/rng_state.json checkpoint-6/scheduler.json; do
  [ -s "$out/$f" ] || fail "train left no $f"
done
[ ! -d "$out/checkpoint-3" ] || fail "save_total_limit 1 kept checkpoint-3"
ls "$out"/runs/*/events.out.tfevents.* >/dev/null 2>&1 || fail "no TensorBoard event file"
grep -q '"eval_accuracy"' "$out/all_results.json" || fail "all_results.json lacks eval_accuracy"
grep -q '"id2label"' "$out/config.json" && grep -q '"rotten"' "$out/config.json" || fail "config.json lacks the labels"
[ "$(grep -c '"loss"' "$out/metrics.jsonl")" -ge 3 ] || fail "metrics.jsonl has too few train log lines"
grep -q "^step 2/6 | epoch" "$tmp/train.log" || fail "no plain progress line: $(head -5 "$tmp/train.log")"
grep -q '"global_step": 6' "$out/checkpoint-6/trainer_state.json" || fail "trainer_state.json global_step"
grep -q '<polyline' "$out/training_curves.svg" || fail "the plot has no curve"

# ---- eval and predict with the saved directory
"$ftrain" eval --model_name_or_path "$out" --validation_file "$rt/test.csv" --max_eval_samples 48 \
  --output_dir "$tmp/eval" > "$tmp/eval.log" 2>&1 || { cat "$tmp/eval.log"; fail "eval exited $?"; }
grep -q "eval_accuracy" "$tmp/eval.log" && [ -s "$tmp/eval/eval_results.json" ] || fail "eval printed/wrote no metrics"
"$ftrain" predict --model_name_or_path "$out" --test_file "$rt/test.csv" --max_predict_samples 10 \
  --output_file "$tmp/pred.csv" > /dev/null 2>&1 || fail "predict (csv) failed"
[ "$(wc -l < "$tmp/pred.csv")" -eq 11 ] || fail "pred.csv should have a header and 10 rows"
head -1 "$tmp/pred.csv" | grep -q "^text,label,score,prob_fresh,prob_rotten,true_label$" || fail "pred.csv header: $(head -1 "$tmp/pred.csv")"
printf 'text\nA triumph.\nDull and lifeless.\n' > "$tmp/unlabelled.csv"
"$ftrain" predict --model_name_or_path "$out" --test_file "$tmp/unlabelled.csv" --output_file "$tmp/pred.jsonl" \
  > /dev/null 2>&1 || fail "predict (jsonl, unlabelled) failed"
[ "$(grep -c '"probabilities"' "$tmp/pred.jsonl")" -eq 2 ] || fail "pred.jsonl rows"

# ---- resume through the CLI: 6 steps saved at 3, resumed from checkpoint-3, equals 6 uninterrupted
"$ftrain" train "${small[@]}" --output_dir "$tmp/a" --max_steps 6 --save_steps 3 --quiet > /dev/null 2>&1 || fail "run a"
mkdir -p "$tmp/b" && cp -r "$tmp/a/checkpoint-3" "$tmp/b/"
# What a process killed while saving leaves behind: a half-written checkpoint-5.tmp, which "latest" ignores.
mkdir -p "$tmp/b/checkpoint-5.tmp" && head -c 100 "$tmp/a/model.safetensors" > "$tmp/b/checkpoint-5.tmp/model.safetensors"
"$ftrain" train "${small[@]}" --output_dir "$tmp/b" --max_steps 6 --save_steps 3 --resume_from_checkpoint latest \
  > "$tmp/b.log" 2>&1 || { cat "$tmp/b.log"; fail "resumed run"; }
grep -q "resumed from $tmp/b/checkpoint-3 at step 3" "$tmp/b.log" || fail "did not resume from checkpoint-3: $(head -3 "$tmp/b.log")"
cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors" || fail "resumed weights differ from the uninterrupted run"

# ---- --bf16: resume is exact under autocast too; --save_dtype bf16 writes the final weights in bf16 and
# says so in config.json, while checkpoints keep f32 (what resuming reads)
"$ftrain" train "${small[@]}" --output_dir "$tmp/m" --max_steps 4 --save_steps 2 --bf16 --save_dtype bf16 --quiet \
  > "$tmp/m.log" 2>&1 || { cat "$tmp/m.log"; fail "bf16 run"; }
mkdir -p "$tmp/n" && cp -r "$tmp/m/checkpoint-2" "$tmp/n/"
"$ftrain" train "${small[@]}" --output_dir "$tmp/n" --max_steps 4 --save_steps 2 --bf16 --save_dtype bf16 \
  --resume_from_checkpoint latest > "$tmp/n.log" 2>&1 || { cat "$tmp/n.log"; fail "resumed bf16 run"; }
cmp -s "$tmp/m/model.safetensors" "$tmp/n/model.safetensors" || fail "resumed bf16 weights differ from the uninterrupted run"
grep -q '"dtype": "bfloat16"' "$tmp/m/config.json" && grep -q '"torch_dtype": "bfloat16"' "$tmp/m/config.json" ||
  fail "config.json does not record bfloat16"
# The safetensors header (the JSON before the data), read whole: grep -q ending a pipe early would
# fail the pipeline under pipefail.
final_header=$(head -c 65536 "$tmp/m/model.safetensors" | tr -d '\0')
ckpt_header=$(head -c 65536 "$tmp/m/checkpoint-4/model.safetensors" | tr -d '\0')
grep -q '"BF16"' <<< "$final_header" && ! grep -q '"F32"' <<< "$final_header" || fail "the final weights are not all bf16"
grep -q '"F32"' <<< "$ckpt_header" && ! grep -q '"BF16"' <<< "$ckpt_header" || fail "checkpoint weights are not f32"
grep -q '"bf16": true' "$tmp/m/training_args.json" || fail "training_args.json lacks bf16"

# ---- bad input: one error line, exit status 1 (CLI11's own parse errors: 105-109)
before=$(cd "$out" && find . -type f -exec sha256sum {} + | sort | sha256sum)
check_error 1 "is not empty; pass --overwrite_output_dir" "$ftrain" train "${small[@]}" --output_dir "$out" --max_steps 1
after=$(cd "$out" && find . -type f -exec sha256sum {} + | sort | sha256sum)
[ "$before" = "$after" ] || fail "a refused run changed $out"
check_error 1 "no column 'review' (columns: text, label)" "$ftrain" train "${small[@]}" --text_column_name review \
  --output_dir "$tmp/x1"
check_error 1 "model_dir_missing: not a model directory" "$ftrain" train "${small[@]}" \
  --model_name_or_path "$tmp/model_dir_missing" --output_dir "$tmp/x2"
printf 'text,label\n"ok",fresh\n"broken,rotten\n' > "$tmp/bad.csv"
check_error 1 "bad.csv:3" "$ftrain" train "${small[@]}" --train_file "$tmp/bad.csv" --output_dir "$tmp/x3"
check_error 105 "lr_scheduler_type: .* not in {" "$ftrain" train "${small[@]}" --lr_scheduler_type sine --output_dir "$tmp/x4"
printf 'learning_rate: 1e-4\nlearning_rat: 2\n' > "$tmp/cfg.yaml"
check_error 1 "'learning_rat' is not an option of ftrain train" "$ftrain" train "${small[@]}" --config "$tmp/cfg.yaml" \
  --output_dir "$tmp/x5"
mkdir -p "$tmp/c" && cp -r "$tmp/a/checkpoint-3" "$tmp/c/" && rm "$tmp/c/checkpoint-3/optimizer.safetensors"
check_error 1 "not a complete ftrain checkpoint (no optimizer.safetensors)" "$ftrain" train "${small[@]}" \
  --output_dir "$tmp/c" --max_steps 6 --resume_from_checkpoint latest
head -c 1000 "$tmp/a/model.safetensors" > "$tmp/c/checkpoint-3/model.safetensors"
cp "$tmp/a/optimizer.safetensors" "$tmp/c/checkpoint-3/" 2>/dev/null || cp "$tmp/a/checkpoint-6/optimizer.safetensors" "$tmp/c/checkpoint-3/"
check_error 1 "model.safetensors" "$ftrain" train "${small[@]}" --output_dir "$tmp/c" --max_steps 6 \
  --resume_from_checkpoint latest
check_error 1 "the loss is .* at step" "$ftrain" train "${small[@]}" --output_dir "$tmp/nan" --max_steps 30 \
  --learning_rate 1e30 --max_grad_norm 0 --save_steps 1 --lr_scheduler_type constant
[ -d "$tmp/nan/checkpoint-1" ] || fail "the NaN run lost its earlier checkpoints"

# ---- Ctrl-C: saves a checkpoint and exits 130; the run continues from it
"$ftrain" train "${small[@]}" --output_dir "$tmp/int" --max_steps 1000 --save_strategy no --logging_steps 1 \
  > "$tmp/int.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q '"loss"' "$tmp/int/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || { cat "$tmp/int.log"; fail "Ctrl-C exit status $rc (want 130)"; }
ls -d "$tmp"/int/checkpoint-* > /dev/null 2>&1 || fail "Ctrl-C left no checkpoint"
grep -q "resume_from_checkpoint latest" "$tmp/int.log" || fail "no hint to resume"
echo "train e2e: passed"
