#!/usr/bin/env bash
# `mpirun -np 2 ftrain train` end to end on the real all-MiniLM-L6-v2 and 64 Rotten Tomatoes reviews:
# - one output directory, with the files of the single-process run (every rank's rng_state_<r>.json
#   in checkpoints where one process writes rng_state.json, as the Trainer names them), written by
#   rank 0 alone; the final weights predict as transformers computes them (tools/check_hf_predictions.py,
#   when the tools venv exists: tools/setup_generator_env.sh);
# - a different world size on resume is refused with one clear line;
# - SIGTERM to one rank stops every rank at the same step with one complete checkpoint (exit 143);
# - a rank killed mid-run (SIGKILL) ends the job: mpirun exits non-zero within a bounded time naming
#   the rank, and no half-written checkpoint is taken for a complete one.
# mpirun runs as root here only with --allow-run-as-root.
set -uo pipefail
ftrain=$(realpath "$1")
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
model=$data/minilm
rt=$data/rotten_tomatoes
source "$(dirname "$0")/common.sh"
[ -f "$rt/train.csv" ] || fail "$rt/train.csv missing: run tools/fetch_data.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS=1)
small=(--model_name_or_path "$model" --train_file "$rt/train.csv" --validation_file "$rt/test.csv"
       --max_train_samples 64 --max_eval_samples 32 --per_device_eval_batch_size 16 --max_seq_length 64
       --logging_steps 2 --disable_tqdm --device cpu --max_steps 4 --save_steps 2 --eval_strategy steps --eval_steps 2
       --learning_rate 5e-5)

# ---- the same job as one process (batch 8) and as 2 ranks (batch 4 each)
OMP_NUM_THREADS=1 "$ftrain" train "${small[@]}" --per_device_train_batch_size 8 --output_dir "$tmp/one" \
  > "$tmp/one.log" 2>&1 || { rc=$?; cat "$tmp/one.log"; fail "single-process run exited $rc"; }
mkdir "$tmp/jobdir"
(cd "$tmp/jobdir" && "${mpirun[@]}" "$ftrain" train "${small[@]}" --per_device_train_batch_size 4 \
  --output_dir "$tmp/two") > "$tmp/two.log" 2>&1 || { rc=$?; cat "$tmp/two.log"; fail "mpirun -np 2 exited $rc"; }
grep -q "data parallel over 2 ranks" "$tmp/two.log" || fail "the run did not say it ran on 2 ranks: $(head -3 "$tmp/two.log")"
[ "$(grep -c '^done: 4 steps' "$tmp/two.log")" -eq 1 ] || fail "the summary should be printed once (rank 0)"
[ -z "$(ls -A "$tmp/jobdir")" ] || fail "ranks wrote outside the output directory: $(ls -A "$tmp/jobdir")"
[ "$(ls "$tmp")" = "$(printf 'jobdir\none\none.log\ntwo\ntwo.log')" ] || fail "more than one output directory: $(ls "$tmp")"
# Same files (TensorBoard's event file name carries host and time; rng_state per rank).
list() { (cd "$1" && find . -type f | grep -v '/runs/' | sed -E 's#rng_state(_[0-9]+)?\.json#rng_state.json#' | sort -u); }
diff <(list "$tmp/one") <(list "$tmp/two") || fail "the 2-rank output directory's files differ from the single run's"
ls "$tmp/two"/runs/*/events.out.tfevents.* > /dev/null 2>&1 || fail "no TensorBoard event file"
for r in 0 1; do [ -s "$tmp/two/checkpoint-4/rng_state_$r.json" ] || fail "checkpoint-4 lacks rng_state_$r.json"; done
grep -q '"eval_accuracy"' "$tmp/two/all_results.json" || fail "all_results.json lacks eval_accuracy"
[ "$(grep -c '"loss"' "$tmp/two/metrics.jsonl")" -eq 2 ] || fail "metrics.jsonl: one train log line per 2 steps, once"
py=${FT_TOOLS_PYTHON:-$HOME/.venvs/ftrain-gen/bin/python}
if [ -x "$py" ]; then
  "$ftrain" predict --model_name_or_path "$tmp/two" --test_file "$rt/test.csv" --max_predict_samples 16 \
    --output_file "$tmp/pred.jsonl" > /dev/null 2>&1 || fail "predict with the 2-rank model failed"
  HF_HUB_OFFLINE=1 "$py" tools/check_hf_predictions.py "$tmp/two" "$tmp/pred.jsonl" > "$tmp/hf.log" 2>&1 \
    || { cat "$tmp/hf.log"; fail "transformers does not reproduce the 2-rank model's predictions"; }
  echo "transformers loads the 2-rank model: $(tail -1 "$tmp/hf.log")"
else
  echo "NOTE: $py missing (tools/setup_generator_env.sh): the transformers load check did not run"
fi

# ---- resuming a 2-rank checkpoint as one process is refused
mkdir -p "$tmp/r1" && cp -r "$tmp/two/checkpoint-2" "$tmp/r1/"
check_error 1 "written by 2 ranks and this run has 1" "$ftrain" train "${small[@]}" --per_device_train_batch_size 4 \
  --output_dir "$tmp/r1" --resume_from_checkpoint latest

# rank_pid R: the pid of rank R's ftrain process (empty while it is not running).
rank_pid() {
  grep -l "OMPI_COMM_WORLD_RANK=$1" /proc/[0-9]*/environ 2>/dev/null | while read -r e; do
    p=${e#/proc/}; p=${p%/environ}
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = ftrain ] && grep -qz "^FT_E2E_JOB=$2$" "/proc/$p/environ" && echo "$p"
  done | head -1
}

# ---- SIGTERM to one rank (a scheduler's preemption): every rank stops at the same step, rank 0
# saves a complete checkpoint, and the job exits 128 + 15
(cd "$tmp/jobdir" && FT_E2E_JOB=term exec "${mpirun[@]}" -x FT_E2E_JOB "$ftrain" train "${small[@]}" \
  --per_device_train_batch_size 4 --max_steps 1000 --save_steps 4 --save_total_limit 1 --eval_strategy no \
  --output_dir "$tmp/term") > "$tmp/term.log" 2>&1 &
job=$!
rank0=""
for _ in $(seq 1 600); do  # training (a first checkpoint exists; stdout is buffered in the pipe)
  [ -d "$tmp/term/checkpoint-4" ] && rank0=$(rank_pid 0 term)
  [ -n "$rank0" ] && break
  sleep 0.1
done
[ -n "$rank0" ] || { kill $job; cat "$tmp/term.log"; fail "rank 0 never started training"; }
kill -TERM "$rank0"
wait $job
rc=$?
[ $rc -eq 143 ] || { cat "$tmp/term.log"; fail "SIGTERM to rank 0: exit $rc (want 143)"; }
step=$(grep -o "interrupted by SIGTERM: checkpoint saved at step [0-9]*" "$tmp/term.log" | grep -o "[0-9]*$")
[ -n "$step" ] || fail "no interruption message: $(tail -3 "$tmp/term.log")"
last=$tmp/term/checkpoint-$step
[ -s "$last/rng_state_0.json" ] && [ -s "$last/rng_state_1.json" ] && [ -s "$last/optimizer.safetensors" ] &&
  grep -q "\"global_step\": $step" "$last/trainer_state.json" || fail "checkpoint-$step is not complete"
echo "SIGTERM to rank 0: both ranks stopped at step $step, checkpoint-$step saved, exit $rc"

# ---- a rank killed mid-run ends the job
(cd "$tmp/jobdir" && FT_E2E_JOB=kill exec "${mpirun[@]}" -x FT_E2E_JOB "$ftrain" train "${small[@]}" \
  --per_device_train_batch_size 4 --max_steps 1000 --save_steps 3 --eval_strategy no --output_dir "$tmp/killed") \
  > "$tmp/killed.log" 2>&1 &
job=$!
rank1=""
for _ in $(seq 1 600); do  # wait until rank 1 is training (a checkpoint exists)
  [ -d "$tmp/killed/checkpoint-3" ] && rank1=$(rank_pid 1 kill)
  [ -n "$rank1" ] && break
  sleep 0.1
done
[ -n "$rank1" ] || { kill $job; cat "$tmp/killed.log"; fail "rank 1 never started training"; }
kill -9 "$rank1"
t0=$SECONDS
wait $job
rc=$?
elapsed=$((SECONDS - t0))
[ $rc -ne 0 ] || fail "the job exited 0 after a rank was killed"
[ $elapsed -le 60 ] || fail "the job took ${elapsed}s to end after a rank was killed"
grep -qE "rank 1 .*(signal 9|Killed)" "$tmp/killed.log" || fail "no message naming the killed rank: $(tail -5 "$tmp/killed.log")"
for d in "$tmp"/killed/checkpoint-*; do
  case $d in *.tmp) continue ;; esac
  [ -s "$d/model.safetensors" ] && [ -s "$d/rng_state_1.json" ] || fail "$d is incomplete"
done
echo "killed rank 1: the job ended in ${elapsed}s with exit $rc: $(grep -E 'rank 1' "$tmp/killed.log" | head -1)"
echo "PASS"
