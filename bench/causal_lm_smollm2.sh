#!/usr/bin/env bash
# The README's longer causal-LM run: SmolLM2-135M-Instruct (converted by tools/fetch_data.sh) fine-tuned
# on Reuters R8 training texts in blocks of 128 tokens, held-out perplexity on 64 blocks of the R8 test
# texts before and after; prints the run's time and training tokens/s.
# Then the HF Trainer on the same job (bench/causal_lm_peer.py) when the tools venv exists, and the ratio.
# Usage: bash bench/causal_lm_smollm2.sh [STEPS] (default 60), from the repository root after a build.
set -euo pipefail
steps=${1:-60}
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
./build/tools/ftrain train --model_name_or_path "$data/smollm2/hf" --train_file "$data/reuters_r8/reuters-r8-train.tab" \
  --validation_file "$data/reuters_r8/reuters-r8-test.tab" --text_column_name Text --block_size 128 \
  --per_device_train_batch_size 4 --max_steps "$steps" --learning_rate 1e-4 --warmup_ratio 0.1 \
  --max_eval_samples 64 --eval_strategy steps --eval_steps "$steps" --eval_on_start --save_strategy no \
  --logging_steps 10 --disable_tqdm --output_dir "$out/run" | tee "$out/log"
end=$(date +%s.%N)
python3 - "$out/run" "$out/log" "$steps" "$start" "$end" <<'PY'
import json, math, re, sys
run, log, steps, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
text = open(log).read()
before = float(re.search(r"evaluation before training\s+eval_loss\s+([0-9.]+)", text).group(1))
res = json.load(open(f"{run}/all_results.json"))
tokens = steps * 4 * 128
print(f"\nperplexity before {math.exp(before):.2f}, after {res['eval_perplexity']:.2f}; "
      f"train {res['train_runtime']:.1f} s for {tokens} tokens = {tokens / res['train_runtime']:.1f} tokens/s; "
      f"wall {end - start:.1f} s")
PY
# Side by side: the HF Trainer on the same job when the tools venv exists (bench/causal_lm_peer.py).
py=${FT_TOOLS_PYTHON:-$HOME/.venvs/ftrain-gen/bin/python}
if [ -x "$py" ] && [ "${FT_SKIP_PEER:-0}" != 1 ]; then
  "$py" bench/causal_lm_peer.py "$data/smollm2/hf" "$data" "$steps" 2>&1 | grep '^peer' | tee "$out/peer"
  python3 - "$out/run" "$out/peer" "$steps" <<'PY'
import json, re, sys
res = json.load(open(f"{sys.argv[1]}/all_results.json"))
peer = float(re.search(r"= ([0-9.]+) tokens/s", open(sys.argv[2]).read()).group(1))
ours = int(sys.argv[3]) * 4 * 128 / res["train_runtime"]
print(f"ftrain / HF Trainer train tokens/s: {ours / peer:.2f}x")
PY
fi
