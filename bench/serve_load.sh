#!/usr/bin/env bash
# Load benchmark of `ftrain serve` against the peer a transformers user would deploy (a pipeline
# behind FastAPI + uvicorn, bench/serve_peer.py), one after the other on this machine, loopback only:
# wrk, 30 s, 32 connections, each request one real Rotten Tomatoes review (rotating through 200), the
# same fine-tuned MiniLM (the main job's model, a few training steps: speed does not depend on the
# weights' values). Prints requests/s and the latency percentiles of each, and the ratios.
# Needs: wrk (Debian), the tools venv with transformers, fastapi and uvicorn (tools/setup_generator_env.sh).
#   bash bench/serve_load.sh [build dir] [seconds] [connections]
set -euo pipefail
build=$(realpath "${1:-build}")
secs=${2:-30}
conns=${3:-32}
data=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}
py=${FT_TOOLS_PYTHON:-$HOME/.venvs/ftrain-gen/bin/python}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
"$build/tools/ftrain" train --model_name_or_path "$data/minilm" --train_file "$data/rotten_tomatoes/train.csv" \
  --max_train_samples 64 --per_device_train_batch_size 8 --max_steps 4 --save_strategy no --disable_tqdm --quiet \
  --output_dir "$tmp/model" > /dev/null
# wrk's request script: POST /predict, one review per request, rotating.
"$py" - "$data/rotten_tomatoes/test.csv" "$tmp/post.lua" <<'PY'
import csv, json, sys
rows = [r["text"] for _, r in zip(range(200), csv.DictReader(open(sys.argv[1], newline="")))]
bodies = ",\n".join("[==[" + json.dumps({"inputs": t}) + "]==]" for t in rows)
open(sys.argv[2], "w").write(f"""local bodies = {{{bodies}}}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/predict", nil, bodies[i])
end
""")
PY
wait_health() {
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/health" > /dev/null && return 0; sleep 0.2; done
  echo "no /health on port $1" >&2; return 1
}
run_wrk() {  # name port
  curl -sf "http://127.0.0.1:$2/predict" -H 'Content-Type: application/json' -d '{"inputs": "warm up"}' > /dev/null
  wrk -t 2 -c "$conns" -d "${secs}s" --latency -s "$tmp/post.lua" "http://127.0.0.1:$2" > "$tmp/$1.wrk"
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$1.wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$tmp/$1.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$tmp/$1.wrk")
  errs=$(grep -E "Non-2xx|Socket errors" "$tmp/$1.wrk" | tr '\n' ' ' || true)
  echo "$1: $rps requests/s, p50 $p50, p99 $p99 ${errs:+($errs)}"
  echo "$rps $p99" > "$tmp/$1.res"
}
"$build/tools/ftrain" serve --model_name_or_path "$tmp/model" --port 18931 > "$tmp/ftrain.log" 2>&1 &
pids+=($!)
wait_health 18931
run_wrk ftrain 18931
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
"$py" "$root/bench/serve_peer.py" "$tmp/model" 18932 > "$tmp/peer.log" 2>&1 &
pids+=($!)
wait_health 18932
run_wrk transformers_fastapi 18932
"$py" - "$tmp/ftrain.res" "$tmp/transformers_fastapi.res" <<'PY'
import sys
def ms(s):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)
(a_rps, a_p99), (b_rps, b_p99) = [open(p).read().split() for p in sys.argv[1:]]
print(f"ftrain serve / transformers+FastAPI: {float(a_rps) / float(b_rps):.2f}x requests/s; "
      f"p99 {ms(a_p99):.1f} ms vs {ms(b_p99):.1f} ms")
PY
