#!/usr/bin/env bash
# ftrain on images end to end: a ResNet-18 configuration from random initialisation on a few CIFAR-10
# images (../shared/data/cifar10): the output directory (config with the 10 classes,
# preprocessor_config.json, BatchNorm buffers in model.safetensors), eval and predict on an image
# folder, ftrain serve with the model (tests/cli/test_serve_e2e.py images), exact resume with
# augmentation and BatchNorm statistics, and the bad-input cases.
set -uo pipefail
ftrain=$1
cifar=${2:-${FT_SHARED_DIR:-$(dirname "$0")/../../../shared}/data/cifar10}
repo=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*"; exit 1; }
[ -d "$cifar/train/airplane" ] || fail "$cifar: no CIFAR-10 image folders"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A small image folder: 12 training and 4 test images of each class.
for split in train test; do
  n=$([ $split = train ] && echo 12 || echo 4)
  for cls in "$cifar/$split"/*/; do
    c=$(basename "$cls")
    mkdir -p "$tmp/data/$split/$c"
    ls "$cls" | head -$n | while read -r f; do cp "$cls/$f" "$tmp/data/$split/$c/"; done
  done
done
small=(--config_name "$repo/configs/resnet18-cifar10" --train_dir "$tmp/data/train" --validation_dir "$tmp/data/test"
       --per_device_train_batch_size 16 --per_device_eval_batch_size 40 --logging_steps 2 --learning_rate 1e-3
       --random_resized_crop_min_scale 0.5 --disable_tqdm)

out=$tmp/run
"$ftrain" train "${small[@]}" --output_dir "$out" --max_steps 6 --save_steps 3 --eval_strategy steps --eval_steps 3 \
  > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "train exited $?"; }
grep -q "training from random initialisation" "$tmp/train.log" || fail "no from-scratch message"
for f in config.json model.safetensors preprocessor_config.json all_results.json checkpoint-6/optimizer.safetensors; do
  [ -s "$out/$f" ] || fail "train left no $f"
done
grep -q '"ResNetForImageClassification"' "$out/config.json" && grep -q '"airplane"' "$out/config.json" \
  || fail "config.json lacks the architecture or the classes"
listing=$("$ftrain" inspect "$out") || fail "inspect failed"  # grep -q on a pipe could SIGPIPE inspect
grep -qE "num_batches_tracked +I64" <<< "$listing" || fail "model.safetensors lacks the BatchNorm counters"

"$ftrain" eval --model_name_or_path "$out" --validation_dir "$tmp/data/test" > "$tmp/eval.log" 2>&1 \
  || { cat "$tmp/eval.log"; fail "eval exited $?"; }
grep -q "eval_accuracy" "$tmp/eval.log" || fail "eval printed no accuracy"
"$ftrain" predict --model_name_or_path "$out" --test_dir "$tmp/data/test" --output_file "$tmp/pred.csv" \
  > /dev/null 2>&1 || fail "predict failed"
# ftrain serve with this model: image bodies and base64 answered as predict scored the same files.
python3 "$repo/tests/cli/test_serve_e2e.py" images "$ftrain" "$out" "$tmp/pred.csv" || fail "serving the image model"
head -1 "$tmp/pred.csv" | grep -q "^image,label,score,prob_airplane," || fail "pred.csv header: $(head -1 "$tmp/pred.csv")"
[ "$(wc -l < "$tmp/pred.csv")" -eq 41 ] || fail "pred.csv should have 40 rows"

# Resume: the run above saved checkpoint-3; continuing from it must end with the same weights.
mkdir -p "$tmp/b" && cp -r "$out/checkpoint-3" "$tmp/b/"
"$ftrain" train "${small[@]}" --output_dir "$tmp/b" --max_steps 6 --save_steps 3 --eval_strategy steps --eval_steps 3 \
  --resume_from_checkpoint latest > "$tmp/b.log" 2>&1 || { cat "$tmp/b.log"; fail "resumed run"; }
cmp -s "$out/model.safetensors" "$tmp/b/model.safetensors" || fail "resumed weights differ from the uninterrupted run"

check_error() {  # expected-substring command...
  local want=$1 err rc
  shift
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 1 ] || fail "exit $rc (want 1) for: $* ($err)"
  echo "$err" | grep -q -- "$want" || fail "unexpected error for $*: $err"
}
cp -r "$tmp/data/train" "$tmp/bad_train" && printf 'not a jpeg' > "$tmp/bad_train/cat/broken.jpg"
check_error "broken.jpg" "$ftrain" train "${small[@]}" --train_dir "$tmp/bad_train" --output_dir "$tmp/x1" --max_steps 1
mkdir -p "$tmp/bad/val/zebra" && cp "$tmp/data/test/cat/"*.jpg "$tmp/bad/val/zebra/"
check_error "class folder 'zebra' is not one of the 10 training classes" "$ftrain" train "${small[@]}" \
  --validation_dir "$tmp/bad/val" --output_dir "$tmp/x2" --max_steps 1
check_error "no model.safetensors" "$ftrain" train --model_name_or_path "$repo/configs/resnet18-cifar10" \
  --train_dir "$tmp/data/train" --output_dir "$tmp/x3"
echo "image e2e: passed"
