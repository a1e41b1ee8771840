#!/usr/bin/env bash
# LoRA end to end (ftrain train --use_peft) on the real all-MiniLM-L6-v2 with Rotten Tomatoes and the
# real SmolLM2-135M-Instruct with Reuters R8:
# - the output directory and checkpoints hold PEFT's adapter files (and the tokenizer, and the head's
#   labels), no base weights; resuming from a checkpoint gives the same adapter, byte for byte, as the
#   uninterrupted run; load_best_model_at_end ends with the best checkpoint's adapter;
# - eval / predict --adapter on the base, ftrain merge, and the merged directory evaluating the same;
#   generate --adapter and merge for the causal LM;
# - with the tools venv, tools/check_peft.py: PEFT's PeftModel.from_pretrained loads both adapters with
#   the same logits, and merge equals merge_and_unload;
# - bad input, one clear line each: r <= 0, a target module that matches nothing, --adapter with
#   --use_peft on another r, an adapter trained on another base (shapes named), LoRA on a ResNet.
set -uo pipefail
ftrain=$(realpath "$1")
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
minilm=$data/minilm
rt=$data/rotten_tomatoes
smollm=$data/smollm2/hf
r8=$data/reuters_r8
here=$(dirname "$(realpath "$0")")
source "$here/common.sh"
for d in "$minilm" "$smollm"; do [ -f "$d/config.json" ] || fail "$d missing: run tools/fetch_data.sh (after a build)"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=${FT_TOOLS_PYTHON:-$HOME/.venvs/ftrain-gen/bin/python}

# ---- MiniLM: 6 steps of 16, checkpoints at 3 and 6, evaluated on 64 test reviews
args=(--model_name_or_path "$minilm" --train_file "$rt/train.csv" --validation_file "$rt/test.csv" --max_eval_samples 64
      --per_device_train_batch_size 16 --max_steps 6 --learning_rate 1e-3 --use_peft --save_steps 3 --logging_steps 3
      --eval_strategy steps --eval_steps 6 --disable_tqdm)
"$ftrain" train "${args[@]}" --output_dir "$tmp/a" > "$tmp/a.log" 2>&1 || { cat "$tmp/a.log"; fail "train exited $?"; }
grep -q "LoRA: r 8, alpha 16 (scaling 2), dropout 0.05 on 12 linear layers (query, value); trainable params: 74498 ||" \
  "$tmp/a.log" || fail "no LoRA summary line (or another parameter count): $(grep LoRA "$tmp/a.log")"
for d in "$tmp/a" "$tmp/a/checkpoint-3"; do
  for f in adapter_config.json adapter_model.safetensors labels.json tokenizer.json vocab.txt; do
    [ -f "$d/$f" ] || fail "$d lacks $f"
  done
  for f in model.safetensors config.json; do [ ! -e "$d/$f" ] || fail "$d has the base's $f"; done
done
python3 - "$tmp/a/adapter_model.safetensors" "$tmp/a/adapter_config.json" <<'PY' || fail "not PEFT's adapter layout"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
names = sorted(k for k in header if k != "__metadata__")
lora = [n for n in names if ".lora_A.weight" in n or ".lora_B.weight" in n]
assert len(lora) == 24 and all(n.startswith("base_model.model.bert.encoder.layer.") for n in lora), names
assert set(names) - set(lora) == {"base_model.model.classifier.weight", "base_model.model.classifier.bias"}, names
assert header["base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight"]["shape"] == [8, 384]
c = json.load(open(sys.argv[2]))
assert c["peft_type"] == "LORA" and c["r"] == 8 and c["lora_alpha"] == 16 and c["task_type"] == "SEQ_CLS", c
assert c["target_modules"] == ["query", "value"] and c["modules_to_save"] == ["classifier", "score"], c
print(f"adapter: {len(names)} tensors, {sum(1 for _ in lora)} LoRA")
PY

# ---- resume from checkpoint-3: the same adapter as the uninterrupted run
mkdir -p "$tmp/b" && cp -r "$tmp/a/checkpoint-3" "$tmp/b/"
"$ftrain" train "${args[@]}" --output_dir "$tmp/b" --resume_from_checkpoint latest > "$tmp/b.log" 2>&1 ||
  { cat "$tmp/b.log"; fail "resume exited $?"; }
grep -q "resumed from .*checkpoint-3 at step 3" "$tmp/b.log" || fail "did not resume: $(head -5 "$tmp/b.log")"
cmp -s "$tmp/a/adapter_model.safetensors" "$tmp/b/adapter_model.safetensors" || fail "the resumed run's adapter differs"

# ---- load_best_model_at_end: the final adapter is the best checkpoint's
"$ftrain" train "${args[@]}" --output_dir "$tmp/best" --save_steps 2 --eval_steps 2 --load_best_model_at_end \
  > "$tmp/best.log" 2>&1 || { cat "$tmp/best.log"; fail "train --load_best_model_at_end exited $?"; }
best=$(sed -n 's/^loaded the best model from \([^ ]*\) .*/\1/p' "$tmp/best.log")
[ -n "$best" ] && [ -f "$best/adapter_model.safetensors" ] || fail "no best checkpoint loaded: $(tail -3 "$tmp/best.log")"
cmp -s "$tmp/best/adapter_model.safetensors" "$best/adapter_model.safetensors" ||
  fail "the final adapter is not the best checkpoint's ($best)"

# ---- eval / predict with --adapter on the base, merge, and the merged model
acc=$(python3 -c "import json;print(json.load(open('$tmp/a/eval_results.json'))['eval_accuracy'])")
"$ftrain" eval --model_name_or_path "$minilm" --adapter "$tmp/a" --validation_file "$rt/test.csv" --max_eval_samples 64 \
  --output_dir "$tmp/eval" --quiet > /dev/null || fail "eval --adapter exited $?"
python3 -c "import json,sys; e=json.load(open('$tmp/eval/eval_results.json'))['eval_accuracy']; sys.exit(0 if e == $acc else 1)" ||
  fail "eval --adapter's accuracy differs from train's ($acc)"
"$ftrain" predict --model_name_or_path "$minilm" --adapter "$tmp/a" --test_file "$rt/test.csv" --max_predict_samples 8 \
  --output_file "$tmp/pred.jsonl" --quiet > /dev/null || fail "predict --adapter exited $?"
[ "$(wc -l < "$tmp/pred.jsonl")" -eq 8 ] || fail "predict --adapter wrote $(wc -l < "$tmp/pred.jsonl") lines"
grep -q '"label":"\(fresh\|rotten\)"' "$tmp/pred.jsonl" || fail "predictions do not name the adapter's labels"
"$ftrain" merge --model_name_or_path "$minilm" --adapter "$tmp/a" --output_dir "$tmp/merged" > /dev/null ||
  fail "merge exited $?"
"$ftrain" eval --model_name_or_path "$tmp/merged" --validation_file "$rt/test.csv" --max_eval_samples 64 \
  --output_dir "$tmp/eval_merged" --quiet > /dev/null || fail "eval of the merged model exited $?"
python3 -c "import json,sys; e=json.load(open('$tmp/eval_merged/eval_results.json'))['eval_accuracy']; sys.exit(0 if e == $acc else 1)" ||
  fail "the merged model's accuracy differs from the adapter's ($acc)"
echo "MiniLM LoRA: accuracy $acc on 64 reviews (train, eval --adapter and the merged model alike)"
# serve --adapter answers as predict --adapter does
"$ftrain" serve --model_name_or_path "$minilm" --adapter "$tmp/a" --port 0 > "$tmp/serve.log" 2>&1 &
server=$!
python3 - "$tmp/serve.log" "$tmp/pred.jsonl" "$tmp/a" <<'PY' || { kill $server; cat "$tmp/serve.log"; fail "serve --adapter"; }
import json, re, sys, time, urllib.request
for _ in range(300):
    m = re.search(r"listening on http://[0-9.]+:([0-9]+)", open(sys.argv[1]).read())
    if m: break
    time.sleep(0.1)
url = f"http://127.0.0.1:{m.group(1)}"
row = json.loads(open(sys.argv[2]).readline())
req = urllib.request.Request(url + "/predict", data=json.dumps({"inputs": row["text"]}).encode(),
                             headers={"Content-Type": "application/json"})
got = {x["label"]: x["score"] for x in json.load(urllib.request.urlopen(req))}
assert all(abs(got[k] - v) < 1e-5 for k, v in row["probabilities"].items()), (got, row["probabilities"])
info = json.load(urllib.request.urlopen(url + "/info"))
assert info["adapter"] == sys.argv[3] and info["labels"] == ["fresh", "rotten"], info
print("serve --adapter: the scores of predict --adapter")
PY
kill -TERM $server; wait $server || fail "serve exited $? on SIGTERM"

# ---- SmolLM2: 2 steps of 2 x 32-token blocks, generate --adapter, merge
"$ftrain" train --model_name_or_path "$smollm" --train_file "$r8/reuters-r8-train.tab" --text_column_name Text \
  --block_size 32 --per_device_train_batch_size 2 --max_steps 2 --learning_rate 1e-3 --use_peft \
  --lora_target_modules q_proj,v_proj,o_proj --save_strategy no --disable_tqdm --output_dir "$tmp/clm" > "$tmp/clm.log" 2>&1 ||
  { cat "$tmp/clm.log"; fail "causal train exited $?"; }
grep -q "on 90 linear layers (q_proj, v_proj, o_proj)" "$tmp/clm.log" || fail "not 90 adapted layers: $(grep LoRA "$tmp/clm.log")"
[ ! -e "$tmp/clm/model.safetensors" ] || fail "the causal adapter directory has the base's weights"
"$ftrain" generate --model_name_or_path "$smollm" --adapter "$tmp/clm" --prompt "The company said" --max_new_tokens 8 \
  --quiet --output_file "$tmp/gen.jsonl" || fail "generate --adapter exited $?"
python3 -c "import json; r=json.loads(open('$tmp/gen.jsonl').readline()); assert 0 < len(r['tokens']) <= 8, r" ||
  fail "generate --adapter wrote no tokens"
if [ -x "$py" ] && "$py" -c "import peft" 2>/dev/null; then
  for kind in seq-cls causal-lm; do
    if [ $kind = seq-cls ]; then set -- "$minilm" "$tmp/a" seq-cls "$rt/test.csv"; else set -- "$smollm" "$tmp/clm" causal-lm; fi
    HF_HUB_OFFLINE=1 "$py" "$here/../../tools/check_peft.py" "$ftrain" "$@" 2>&1 | grep -v -i "warn\|loading\|report\|missing\|^key\|^---\|^classifier\|^notes\|^$" |
      tail -4 | tee "$tmp/check.log"
    grep -q "^OK" "$tmp/check.log" || fail "PEFT does not load the $kind adapter with the same results"
  done
else
  echo "NOTE: $py with peft missing (tools/setup_generator_env.sh): the PEFT load checks did not run"
  "$ftrain" merge --model_name_or_path "$smollm" --adapter "$tmp/clm" --output_dir "$tmp/clm_merged" > /dev/null ||
    fail "causal merge exited $?"
fi

# ---- bad input
check_error 1 "\`r\` should be a positive integer value but the value passed is 0" \
  "$ftrain" train "${args[@]}" --output_dir "$tmp/bad" --lora_r 0
check_error 1 "LoRA: target modules \[q_proj\] not found in the base model" \
  "$ftrain" train "${args[@]}" --output_dir "$tmp/bad" --lora_target_modules q_proj
check_error 1 "has r 8 and --use_peft asks for --lora_r 16" \
  "$ftrain" train "${args[@]}" --output_dir "$tmp/bad" --adapter "$tmp/a" --lora_r 16
mkdir -p "$tmp/other"
cp "$tmp/a/adapter_config.json" "$tmp/other/"
python3 - "$tmp/other/adapter_model.safetensors" <<'PY'
import json, struct, sys
# An adapter whose query lora_A has a 768-wide input: trained on a base with hidden size 768.
name = "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight"
header = json.dumps({name: {"dtype": "F32", "shape": [8, 768], "data_offsets": [0, 8 * 768 * 4]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(header)) + header + bytes(8 * 768 * 4))
PY
check_error 1 "has shape \[8, 768\] and the model's bert.encoder.layer.0.attention.self.query.lora_A.weight has \[8, 384\]" \
  "$ftrain" eval --model_name_or_path "$minilm" --adapter "$tmp/other" --validation_file "$rt/test.csv"
check_error 1 "its task_type is SEQ_CLS and .* is a CAUSAL_LM model" \
  "$ftrain" generate --model_name_or_path "$smollm" --adapter "$tmp/a" --prompt x
check_error 1 "model_type resnet is not supported (bert, llama and gpt2 are)" \
  "$ftrain" train --config_name "$here/../../configs/resnet18-cifar10" --train_dir "$tmp" --output_dir "$tmp/bad" --use_peft
echo "PASS"
