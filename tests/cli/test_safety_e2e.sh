#!/usr/bin/env bash
# Data safety end to end, on the real all-MiniLM-L6-v2 and Rotten Tomatoes (and CIFAR-10 images):
# a full disk at the final save, a read-only output directory, a second run on the same directory
# (started later or at the same moment), SIGTERM and SIGHUP, --overwrite_output_dir over an old run,
# a directory left with only an incomplete checkpoint, predictions that would overwrite their inputs,
# and inputs that must be refused, warned about or explained.
# Usage: test_safety_e2e.sh FTRAIN FAULT_INJECT_LIB [CIFAR_DIR]
# The disk cases use a small tmpfs (mount) where that is permitted, and otherwise the LD_PRELOAD
# library (FT_FAULT=enospc:<bytes> / erofs), which makes the same system calls fail the same way.
set -uo pipefail
ftrain=$1
inject=$2
cifar=${3:-}
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
model=$data/minilm
rt=$data/rotten_tomatoes
source "$(dirname "$0")/common.sh"
[ -f "$rt/train.csv" ] || fail "$rt/train.csv missing: run tools/fetch_data.sh"
tmp=$(mktemp -d)
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
small=(--model_name_or_path "$model" --train_file "$rt/train.csv" --max_train_samples 32
       --per_device_train_batch_size 8 --max_seq_length 32 --disable_tqdm)
long_run=("${small[@]}" --max_steps 100000 --save_strategy no --logging_steps 1)

wait_for_log() {  # a run's first logged step
  for _ in $(seq 1 600); do grep -q '"loss"' "$1/metrics.jsonl" 2>/dev/null && return 0; sleep 0.1; done
  fail "no step was logged in $1"
}

# A directory on a file system of `size`, or a plain one with the fault library ready in $fault_env.
can_mount=0
probe=$tmp/probe
mkdir -p "$probe"
if [ "${FT_TEST_FAULTS:-auto}" != inject ] && mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
  umount "$probe"
  can_mount=1
fi
echo "disk faults through $([ $can_mount = 1 ] && echo "tmpfs mounts" || echo "the LD_PRELOAD library $inject")"
fault_env=()
small_disk() {  # dir size-in-MB: a directory on a file system of that size
  mkdir -p "$1"
  if [ $can_mount = 1 ]; then mount -t tmpfs -o size="$2"m tmpfs "$1" || fail "mount $1"; mounts+=("$1"); fi
}
disk_faults() {  # dir size-in-MB, once the directory holds its files: what a command needs to run on it
  fault_env=()
  [ $can_mount = 1 ] && return
  local used
  used=$(du -sb "$1" | cut -f1)
  fault_env=(env LD_PRELOAD="$inject" FT_FAULT_DIR="$1" FT_FAULT=enospc:$(($2 * 1000000 - used))
             ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0")
}
read_only_disk() {
  mkdir -p "$1"
  if [ $can_mount = 1 ]; then
    mount -t tmpfs -o ro,size=1m tmpfs "$1" || fail "mount $1"
    mounts+=("$1")
    fault_env=()
  else
    fault_env=(env LD_PRELOAD="$inject" FT_FAULT_DIR="$1" FT_FAULT=erofs
               ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0")
  fi
}

# ---- a trained model to protect
good=$tmp/good
"$ftrain" train "${small[@]}" --output_dir "$good" --max_steps 2 --save_strategy no --quiet > /dev/null 2>&1 \
  || fail "training the model to protect"

# ---- 1. disk full at the final save: the previous model stays loadable and the error says why
full=$tmp/full
small_disk "$full" 100  # the old model (91 MB) fits; a second copy beside it does not
cp "$good"/*.json "$good"/model.safetensors "$good"/vocab.txt "$full"/ || fail "copy the model onto the small disk"
disk_faults "$full" 100
model_files() { (cd "$1" && sha256sum config.json model.safetensors tokenizer.json tokenizer_config.json vocab.txt); }
before=$(model_files "$full")
err=$("${fault_env[@]}" "$ftrain" train "${small[@]}" --output_dir "$full" --overwrite_output_dir --max_steps 1 \
      --save_strategy no 2>&1 >/dev/null)
rc=$?
[ $rc -eq 1 ] || fail "the full-disk run exited $rc: $err"
# (statvfs sees the real disk behind the LD_PRELOAD library, so the early warning needs the tmpfs.)
[ $can_mount = 0 ] || echo "$err" | grep -q "warning: --output_dir $full has .* MB free, and the final model needs about" \
  || fail "no free-space warning before training: $err"
echo "$err" | grep -q "error: saving the final model failed: .*No space left on device (the files already in $full are unchanged)" \
  || fail "the full-disk error does not say why: $err"
[ "$before" = "$(model_files "$full")" ] || fail "a failed final save changed the previous model"
[ ! -e "$full/.ftrain-final.tmp" ] || fail "the staging folder was left on the full disk"
"$ftrain" eval --model_name_or_path "$full" --validation_file "$rt/test.csv" --max_eval_samples 8 --max_seq_length 32 \
  > /dev/null 2>&1 || fail "the previous model no longer loads after the failed save"

# ---- 2. a read-only output directory is found before training, with the system's reason
ro=$tmp/ro
read_only_disk "$ro"
check_error 1 "error: --output_dir $ro: cannot write to it: Read-only file system" \
  "${fault_env[@]}" "$ftrain" train "${small[@]}" --output_dir "$ro" --max_steps 1
check_error 1 "error: --output_dir $ro/sub: cannot create it: Read-only file system" \
  "${fault_env[@]}" "$ftrain" train "${small[@]}" --output_dir "$ro/sub" --max_steps 1
fault_env=()

# ---- 3. a second run on a directory in use is refused naming the first; SIGTERM saves and exits 143
busy=$tmp/busy
"$ftrain" train "${long_run[@]}" --output_dir "$busy" > "$tmp/busy.log" 2>&1 &
first=$!
wait_for_log "$busy"
check_error 1 "error: --output_dir $busy is in use by another ftrain run (pid $first)" \
  "$ftrain" train "${small[@]}" --output_dir "$busy" --overwrite_output_dir --max_steps 1
check_error 1 "is in use by another ftrain run (pid $first)" "$ftrain" eval --model_name_or_path "$good" \
  --validation_file "$rt/test.csv" --max_eval_samples 8 --output_dir "$busy"
kill -0 $first 2>/dev/null || fail "the first run died when the second was refused"
kill -TERM $first
wait $first
rc=$?
[ $rc -eq 143 ] || { cat "$tmp/busy.log"; fail "SIGTERM exit status $rc (want 143)"; }
grep -q "interrupted by SIGTERM: checkpoint saved at step [0-9]* in $busy/checkpoint-[0-9]*; continue with --resume_from_checkpoint latest" \
  "$tmp/busy.log" || fail "no SIGTERM message: $(tail -3 "$tmp/busy.log")"
ls -d "$busy"/checkpoint-[0-9]* > /dev/null 2>&1 || fail "SIGTERM left no checkpoint"
[ ! -e "$busy/.ftrain.lock" ] || fail "the lock file outlived the run"

# ---- 4. two runs started at the same moment: exactly one runs; SIGHUP (a closed terminal) saves and exits 129
same=$tmp/same
for i in 1 2; do
  "$ftrain" train "${long_run[@]}" --output_dir "$same" --overwrite_output_dir > "$tmp/same$i.log" 2>&1 &
  pids[$i]=$!
done
sleep 1
for _ in $(seq 1 600); do
  alive=0
  for i in 1 2; do kill -0 "${pids[$i]}" 2>/dev/null && alive=$((alive + 1)); done
  [ $alive -le 1 ] && break
  sleep 0.1
done
refused=0 survivor=
for i in 1 2; do
  if kill -0 "${pids[$i]}" 2>/dev/null; then survivor=${pids[$i]}; else
    wait "${pids[$i]}"
    [ $? -eq 1 ] && grep -q "is in use by another ftrain run (pid " "$tmp/same$i.log" && refused=$((refused + 1))
  fi
done
[ $refused -eq 1 ] && [ -n "$survivor" ] || fail "two runs at once: $refused refused ($(cat "$tmp"/same*.log | head -5))"
wait_for_log "$same"
kill -HUP "$survivor"
wait "$survivor"
rc=$?
[ $rc -eq 129 ] || fail "SIGHUP exit status $rc (want 129)"
ls -d "$same"/checkpoint-[0-9]* > /dev/null 2>&1 || fail "SIGHUP left no checkpoint"
step=$(ls -d "$same"/checkpoint-[0-9]* | sed 's/.*checkpoint-//' | sort -n | tail -1)
"$ftrain" train "${small[@]}" --output_dir "$same" --resume_from_checkpoint latest --max_steps $((step + 1)) \
  --save_strategy no > "$tmp/same_resumed.log" 2>&1 || fail "resuming after SIGHUP: $(tail -2 "$tmp/same_resumed.log")"
grep -q "resumed from $same/checkpoint-$step at step $step" "$tmp/same_resumed.log" || fail "no resume after SIGHUP"

# ---- 5. --overwrite_output_dir over an old run: its checkpoints, logs and results go; latest is the new run's
old=$tmp/old
"$ftrain" train "${small[@]}" --output_dir "$old" --max_steps 6 --save_steps 3 --eval_strategy steps --eval_steps 3 \
  --validation_file "$rt/test.csv" --max_eval_samples 8 --logging_steps 1 --quiet > /dev/null 2>&1 || fail "old run"
[ -d "$old/checkpoint-6" ] && [ -f "$old/eval_results.json" ] || fail "the old run left no checkpoint-6 or eval results"
"$ftrain" train "${small[@]}" --output_dir "$old" --overwrite_output_dir --max_steps 2 --save_steps 1 \
  --save_total_limit 1 --logging_steps 1 > "$tmp/over.log" 2>&1 || { cat "$tmp/over.log"; fail "overwrite run"; }
grep -q "removed the previous run's .*checkpoint-3, checkpoint-6" "$tmp/over.log" || fail "no removal message: $(head -3 "$tmp/over.log")"
[ ! -e "$old/checkpoint-6" ] && [ ! -e "$old/checkpoint-1" ] && [ -d "$old/checkpoint-2" ] || fail "checkpoints after overwrite: $(ls "$old")"
[ ! -e "$old/eval_results.json" ] || fail "the old run's eval_results.json survived"
[ "$(ls -d "$old"/runs/* | wc -l)" -eq 1 ] || fail "the old run's TensorBoard files survived"
! grep -q '"step":[3-9]' "$old/metrics.jsonl" || fail "metrics.jsonl still holds the old run's steps"
"$ftrain" train "${small[@]}" --output_dir "$old" --resume_from_checkpoint latest --max_steps 3 > "$tmp/latest.log" 2>&1 \
  || fail "resume after overwrite"
grep -q "resumed from $old/checkpoint-2 at step 2" "$tmp/latest.log" || fail "latest was not the new run's checkpoint"
# The overwrite run's final entry (train_runtime, at step 2) came after checkpoint-2: resuming drops it.
[ "$(grep -c '"step":2}' "$old/metrics.jsonl")" -eq 1 ] || fail "the resumed metrics.jsonl repeats step 2"

# ---- 6. only an incomplete checkpoint: the hint leads to starting over, resume says why not
part=$tmp/part
mkdir -p "$part/checkpoint-7.tmp" && echo '{}' > "$part/metrics.jsonl"
check_error 1 "pass --overwrite_output_dir to start over: it holds no complete checkpoint to resume, only checkpoint-7.tmp" \
  "$ftrain" train "${small[@]}" --output_dir "$part" --max_steps 1
check_error 1 "holds no complete checkpoint, only checkpoint-7.tmp (left by a run stopped while saving); start over with --overwrite_output_dir" \
  "$ftrain" train "${small[@]}" --output_dir "$part" --max_steps 1 --resume_from_checkpoint latest

# ---- 7. predictions never overwrite their input or the model, and the suffix decides the format
cp "$rt/test.csv" "$tmp/in.csv"
check_error 1 "is the input file" "$ftrain" predict --model_name_or_path "$good" --test_file "$tmp/in.csv" \
  --output_file "$tmp/in.csv"
check_error 1 "is inside $good (the model directory)" "$ftrain" predict --model_name_or_path "$good" \
  --test_file "$tmp/in.csv" --output_file "$good/config.csv"
check_error 1 "the name must end in .csv or .jsonl" "$ftrain" predict --model_name_or_path "$good" \
  --test_file "$tmp/in.csv" --output_file "$tmp/out.json"
cmp -s "$tmp/in.csv" "$rt/test.csv" || fail "predict changed its input"
# A one-column file whose second text is an empty quoted field: one prediction per row, in line.
printf 'text\nA triumph.\n""\n\nDull and lifeless.\n' > "$tmp/three.csv"
"$ftrain" predict --model_name_or_path "$good" --test_file "$tmp/three.csv" --output_file "$tmp/three.jsonl" \
  > /dev/null 2>&1 || fail "predict with an empty text"
[ "$(wc -l < "$tmp/three.jsonl")" -eq 3 ] || fail "3 texts gave $(wc -l < "$tmp/three.jsonl") predictions"
sed -n 2p "$tmp/three.jsonl" | grep -q '"text":""' || fail "the empty text's row is not second"

# ---- 8. errors that explain, and values that are refused or warned about
check_error 1 "is a text model (model_type bert) and --train_dir gives a folder of images" \
  "$ftrain" train --model_name_or_path "$model" --train_dir "$tmp" --output_dir "$tmp/x1"
check_error 1 "it is not a fine-tuned classifier (a pretrained encoder has no trained classification head)" \
  "$ftrain" eval --model_name_or_path "$model" --validation_file "$rt/test.csv"
bad_model() {  # name: a copy of the model directory (weights linked) whose $2 file is replaced by $3
  mkdir -p "$tmp/$1" && cp "$model"/*.json "$model"/vocab.txt "$tmp/$1"/ && ln -sf "$model/model.safetensors" "$tmp/$1/"
  printf '%s' "$3" > "$tmp/$1/$2"
}
bad_model array config.json '[1, 2]'
check_error 1 "array/config.json: expected a JSON object (a model's configuration), found array" \
  "$ftrain" train "${small[@]}" --model_name_or_path "$tmp/array" --output_dir "$tmp/x2"
bad_model emptytok tokenizer.json '{}'
check_error 1 "emptytok/tokenizer.json: key 'model' not found" \
  "$ftrain" train "${small[@]}" --model_name_or_path "$tmp/emptytok" --output_dir "$tmp/x3"
bad_model layers config.json "$(sed 's/"num_hidden_layers": *[0-9]*/"num_hidden_layers": -1/' "$model/config.json")"
check_error 1 "layers/config.json: num_hidden_layers must be between 1 and 1024, got -1" \
  "$ftrain" train "${small[@]}" --model_name_or_path "$tmp/layers" --output_dir "$tmp/x4"
"$ftrain" train "${small[@]}" --output_dir "$tmp/ck" --max_steps 1 --quiet > /dev/null 2>&1 || fail "checkpoint run"
echo '{"dropout_generator": {"seed": 42}, "loader": {"epoch": 0, "batch": 1}}' > "$tmp/ck/checkpoint-1/rng_state.json"
check_error 1 "checkpoint-1/rng_state.json: at /dropout_generator: key 'offset' not found" \
  "$ftrain" train "${small[@]}" --output_dir "$tmp/ck" --max_steps 2 --resume_from_checkpoint latest
echo '{"last_epoch": "one"}' > "$tmp/ck/checkpoint-1/scheduler.json"
check_error 1 "checkpoint-1/scheduler.json: at /last_epoch: type must be number, but is string" \
  "$ftrain" train "${small[@]}" --output_dir "$tmp/ck" --max_steps 2 --resume_from_checkpoint latest
{ printf 'text,'; head -c 10000000 /dev/zero | tr '\0' x; printf '\nok,1\n'; } > "$tmp/wide.csv"
check_error 1 "wide.csv: no column 'label' (columns: text, xxxx" \
  "$ftrain" train "${small[@]}" --train_file "$tmp/wide.csv" --output_dir "$tmp/x5"
check_error 1 "--learning_rate must be a finite number, got inf" \
  "$ftrain" train "${small[@]}" --learning_rate inf --output_dir "$tmp/x6"
check_error 105 "seed" "$ftrain" train "${small[@]}" --seed -1 --output_dir "$tmp/x7"
check_error 1 "--threads 100000: this machine has" "$ftrain" train "${small[@]}" --threads 100000 --output_dir "$tmp/x8"
printf 'text,label\nfine,good\nnice,good\n"broken,good\n' > "$tmp/one_class.csv"
err=$("$ftrain" train "${small[@]}" --train_file "$tmp/one_class.csv" --skip_malformed_rows --output_dir "$tmp/x9" \
      --max_steps 1 --save_strategy no 2>&1 >/dev/null) || fail "single-class run: $err"
echo "$err" | grep -q "warning: $tmp/one_class.csv: every training example has the label 'good'" \
  || fail "no single-class warning: $err"
echo "$err" | grep -q "warning: $tmp/one_class.csv: skipped 1 malformed rows (--skip_malformed_rows)" \
  || fail "the skipped rows were not counted: $err"

# ---- 9. images: one decoder decides, a pixel limit, skipped images said; a BERT checkpoint is no ResNet's
if [ -n "$cifar" ] && [ -d "$cifar/train/airplane" ]; then
  repo=$(cd "$(dirname "$0")/../.." && pwd)
  cases=$repo/tests/golden/fixtures/images
  for c in airplane bird; do
    mkdir -p "$tmp/img/$c" && cp "$cifar/train/$c/000"[0-3].jpg "$tmp/img/$c/"
  done
  cp "$cases/arithmetic.jpg" "$cases/junk_before_eoi.jpg" "$cases/cmyk.jpg" "$tmp/img/airplane/"
  img=(--config_name "$repo/configs/resnet18-cifar10" --train_dir "$tmp/img" --per_device_train_batch_size 4 --disable_tqdm)
  "$ftrain" train "${img[@]}" --output_dir "$tmp/res" --max_steps 1 --save_strategy no --quiet > /dev/null 2>&1 \
    || fail "arithmetic-coded, junk-padded and CMYK JPEGs were not all accepted"
  "$ftrain" predict --model_name_or_path "$tmp/res" --test_dir "$tmp/img" --output_file "$tmp/img.csv" > /dev/null 2>&1 \
    || fail "predict on the image folder"
  [ "$(wc -l < "$tmp/img.csv")" -eq 12 ] || fail "11 images gave $(($(wc -l < "$tmp/img.csv") - 1)) predictions"
  cp "$cases/truncated.jpg" "$tmp/img/bird/"
  check_error 1 "truncated.jpg: cannot decode image: the file is truncated" \
    "$ftrain" predict --model_name_or_path "$tmp/res" --test_dir "$tmp/img" --output_file "$tmp/img2.csv"
  err=$("$ftrain" predict --model_name_or_path "$tmp/res" --test_dir "$tmp/img" --output_file "$tmp/img2.csv" \
        --skip_malformed_rows 2>&1 >/dev/null) || fail "predict --skip_malformed_rows: $err"
  echo "$err" | grep -q "warning: predictions for 11 of 12 inputs written to $tmp/img2.csv: 1 could not be read" \
    || fail "predict did not say it wrote fewer rows: $err"
  rm "$tmp/img/bird/truncated.jpg" && cp "$cases/bomb.jpg" "$tmp/img/bird/"
  check_error 1 "bomb.jpg: the image is 60000x60000 = 3600000000 pixels, more than --max_image_pixels 89478485" \
    "$ftrain" train "${img[@]}" --output_dir "$tmp/x10" --max_steps 1
  rm "$tmp/img/bird/bomb.jpg"
  check_error 1 "0000.jpg: the image is 32x32 = 1024 pixels, more than --max_image_pixels 1000" \
    "$ftrain" train "${img[@]}" --output_dir "$tmp/x12" --max_steps 1 --max_image_pixels 1000
  check_error 1 "is not a ResNet checkpoint" \
    "$ftrain" train "${img[@]}" --output_dir "$tmp/x11" --max_steps 1 --resume_from_checkpoint "$tmp/ck/checkpoint-1"
fi
echo "safety e2e: passed"
