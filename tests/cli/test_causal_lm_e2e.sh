#!/usr/bin/env bash
# Causal LM end to end on the real SmolLM2-135M-Instruct (converted from its GGUF file by
# tools/fetch_data.sh with `ftrain convert`) and Reuters R8 texts:
# - `ftrain train --task causal-lm` for a few steps on training texts in blocks of 64 tokens:
#   held-out perplexity (eval_on_start, then at the end) falls;
# - the saved directory evaluates and generates (`ftrain generate`, greedy, streamed), and, when the
#   tools venv exists, loads in transformers with the same eval loss and greedy tokens
#   (tools/check_causal_lm.py);
# - a prompt/completion JSONL trains on the completion only;
# - bad input, one clear line each: a block_size beyond the model's positions, a prompt longer than
#   the context, a truncated GGUF, a GGUF tensor of an unsupported type, a tokenizer.json of an
#   unknown model type.
set -uo pipefail
ftrain=$(realpath "$1")
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
model=$data/smollm2/hf
r8=$data/reuters_r8
fixtures=$(dirname "$(realpath "$0")")/../golden/fixtures
source "$(dirname "$0")/common.sh"
[ -f "$model/config.json" ] || fail "$model missing: run tools/fetch_data.sh after building ftrain"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=${FT_TOOLS_PYTHON:-$HOME/.venvs/ftrain-gen/bin/python}

# ---- fine-tune: 4 steps of 4 blocks of 64 tokens, 16 held-out blocks before and after
"$ftrain" train --model_name_or_path "$model" --train_file "$r8/reuters-r8-train.tab" \
  --validation_file "$r8/reuters-r8-test.tab" --text_column_name Text --block_size 64 \
  --per_device_train_batch_size 4 --max_steps 4 --learning_rate 1e-4 --warmup_steps 0 --max_eval_samples 16 \
  --eval_strategy steps --eval_steps 4 --eval_on_start --save_strategy no --logging_steps 2 --disable_tqdm \
  --output_dir "$tmp/out" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "train exited $?"; }
before=$(grep -A1 "evaluation before training" "$tmp/train.log" | grep -o 'eval_loss *[0-9.]*' | awk '{print $2}')
after=$(python3 -c "import json;print(json.load(open('$tmp/out/eval_results.json'))['eval_perplexity'])")
ppl_before=$(python3 -c "import math;print(math.exp($before))")
echo "held-out perplexity: before $ppl_before, after $after"
python3 -c "import sys; sys.exit(0 if $after < $ppl_before else 1)" || fail "perplexity did not fall: $ppl_before -> $after"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json generation_config.json; do
  [ -f "$tmp/out/$f" ] || fail "the output directory lacks $f"
done

# ---- the result evaluates and generates
"$ftrain" eval --model_name_or_path "$tmp/out" --validation_file "$r8/reuters-r8-test.tab" --text_column_name Text \
  --block_size 64 --max_eval_samples 16 --output_dir "$tmp/eval" --quiet > /dev/null || fail "eval exited $?"
python3 -c "import json,math; e=json.load(open('$tmp/eval/eval_results.json')); \
assert abs(e['eval_perplexity'] - $after) < 1e-3 * $after, (e, $after)" || fail "eval's perplexity differs from train's"
"$ftrain" generate --model_name_or_path "$tmp/out" --prompt "The company said" --max_new_tokens 16 \
  --output_file "$tmp/gen.jsonl" > "$tmp/gen.txt" || fail "generate exited $?"
grep -q "^The company said" "$tmp/gen.txt" || fail "generate did not print the prompt and its continuation: $(cat "$tmp/gen.txt")"
python3 -c "import json; r=json.loads(open('$tmp/gen.jsonl').readline()); assert 0 < len(r['tokens']) <= 16, r" \
  || fail "generate wrote no tokens"
if [ -x "$py" ]; then
  "$py" "$(dirname "$0")/../../tools/check_causal_lm.py" "$ftrain" "$tmp/out" "$r8/reuters-r8-test.tab" Text 64 8 \
    2>&1 | grep -v -i warn | tail -5 | tee "$tmp/check.log"
  grep -q "^OK" "$tmp/check.log" || fail "the saved directory does not load in transformers with the same results"
else
  echo "NOTE: $py missing (tools/setup_generator_env.sh): the transformers load check did not run"
fi

# ---- prompt/completion: the loss on the completion only
python3 - "$tmp/pc.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(16):
        f.write(json.dumps({"prompt": f"Question {i}: what is {i} plus {i}? Answer:", "completion": f" {2 * i}"}) + "\n")
PY
"$ftrain" train --model_name_or_path "$model" --train_file "$tmp/pc.jsonl" --per_device_train_batch_size 4 \
  --max_steps 2 --save_strategy no --disable_tqdm --output_dir "$tmp/pc" > "$tmp/pc.log" 2>&1 \
  || { cat "$tmp/pc.log"; fail "prompt/completion training exited $?"; }

# ---- bad input
check_error 1 "--block_size 9000 is larger than the model's 8192 positions" \
  "$ftrain" train --model_name_or_path "$model" --train_file "$r8/reuters-r8-test.tab" --text_column_name Text \
  --block_size 9000 --max_steps 1 --output_dir "$tmp/bad1"
python3 -c "print('word ' * 9000)" > "$tmp/long.txt"
check_error 1 "prompt 1 has 9001 tokens; the model's context is 8192 positions" \
  "$ftrain" generate --model_name_or_path "$model" --prompt_file "$tmp/long.txt"
head -c 5000 "$data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" > "$tmp/cut.gguf"
check_error 1 "truncated GGUF file" "$ftrain" convert --gguf_file "$tmp/cut.gguf" --output_dir "$tmp/conv"
[ ! -e "$tmp/conv" ] || fail "a failed convert left $tmp/conv behind"
check_error 1 "tensor 'blk.1.ffn_down.weight' has type Q4_K" \
  "$ftrain" convert --gguf_file "$fixtures/tiny_llama_q4k.gguf" --output_dir "$tmp/conv"
mkdir "$tmp/unigram" && cp "$model"/config.json "$model"/model.safetensors "$tmp/unigram"/ 2>/dev/null
python3 - "$model/tokenizer.json" "$tmp/unigram/tokenizer.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["model"]["type"] = "Unigram"
json.dump(j, open(sys.argv[2], "w"))
PY
check_error 1 "tokenizer model type 'Unigram' is not supported" \
  "$ftrain" generate --model_name_or_path "$tmp/unigram" --prompt "hello"
echo "causal LM e2e: OK"
