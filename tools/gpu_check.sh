#!/usr/bin/env bash
# The prepared check for a lent GPU (README, "On a real GPU"): one script, under 10 minutes on a
# 1-GPU machine with 16 cores, one report file that is easy to read.
#   1. builds ftrain for the GPU that is present (CMAKE_CUDA_ARCHITECTURES=native);
#   2. runs ctest -L gpu: the op table (every op, f64/f32/bf16/f16, forward and gradients, fused
#      attention included) and the cuDNN tests on the real device;
#   3. trains the BERT job (MiniLM on Rotten Tomatoes) and the ResNet job (ResNet-18 on CIFAR-10) for
#      a few hundred steps on cuda:0, in f32 and bf16, and records their train samples/s;
#   4. runs the CUDA microbenchmarks: flash attention forward/backward TFLOP/s at BERT-base shapes
#      (S = 128 and 512, d = 64) beside the cuBLAS GEMM ceiling, LayerNorm and AdamW GB/s against the
#      measured device copy bandwidth;
#   5. data parallel: NCCL's all-reduce bus bandwidth over the GPUs (2 or more; MPI's on the CPU otherwise).
# Without a GPU (here) every step runs in its CPU or emulated form: the emulated-CUDA tests (label
# emu) for step 2, the jobs on the CPU for a few steps for step 3, the CPU kernel benchmarks of the
# same ops for step 4; the report says "emulated" on each line.
#
# Usage:
#   bash tools/gpu_check.sh --pack    (on the development machine) copies what the jobs need and the
#                                     lent machine cannot download into gpu_data/ (ignored by git,
#                                     ~48 MB: MiniLM in bf16, the Rotten Tomatoes split); carry it
#   bash tools/gpu_check.sh [REPORT]  runs the checks; REPORT defaults to $OUT/gpu_check.txt when the
#                                     device tool's $OUT is set, else runs/gpu_check.txt
# Steps that cannot run (a missing tool, no data) are reported as skipped with the reason; the
# script goes on with the others and exits non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${1:-}" = "--pack" ]; then
  set -e
  data="${FT_DATA_DIR:-$HOME/.cache/ftrain/data}"
  [ -f "$data/minilm/.complete" ] || bash tools/fetch_data.sh
  rm -rf gpu_data && mkdir -p gpu_data/minilm gpu_data/rotten_tomatoes
  for f in config.json vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do
    [ -f "$data/minilm/$f" ] && cp "$data/minilm/$f" gpu_data/minilm/
  done
  cp "$data/rotten_tomatoes/train.csv" "$data/rotten_tomatoes/test.csv" gpu_data/rotten_tomatoes/
  # The weights in bf16 (the carry limit is 64 MiB; ftrain converts to f32 masters when it loads).
  SRC="$data/minilm/model.safetensors" DST=gpu_data/minilm/model.safetensors python3 - <<'PY'
import json, os, struct, sys
src, dst = os.environ["SRC"], os.environ["DST"]
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    blob = f.read()
out_header, chunks, offset = {}, [], 0
for name, info in header.items():
    if name == "__metadata__":
        out_header[name] = info
        continue
    begin, end = info["data_offsets"]
    raw = blob[begin:end]
    if info["dtype"] == "F32":
        words = struct.unpack("<%dI" % (len(raw) // 4), raw)
        # round to nearest even into the top 16 bits (finite weights)
        half = [((w + 0x7FFF + ((w >> 16) & 1)) >> 16) & 0xFFFF for w in words]
        raw = struct.pack("<%dH" % len(half), *half)
        info = dict(info, dtype="BF16")
    out_header[name] = dict(info, data_offsets=[offset, offset + len(raw)])
    chunks.append(raw)
    offset += len(raw)
h = json.dumps(out_header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(dst + ".part", "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for c in chunks:
        f.write(c)
os.replace(dst + ".part", dst)
PY
  du -sh gpu_data
  echo "gpu_check: packed gpu_data/; carry it with the device tool (carry: [\"gpu_data\"])"
  exit 0
fi

report="${1:-${OUT:+$OUT/gpu_check.txt}}"
report="${report:-runs/gpu_check.txt}"
mkdir -p "$(dirname "$report")" runs/gpu_check
logs=runs/gpu_check
: >"$report"
failed=0
say() { echo "$*" | tee -a "$report"; }
# step NAME COMMAND...: runs it, logs its output, reports ok/FAILED with the time and the log's tail.
step() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  "$@" >"$logs/$name.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    say "[ok]     $name ($(($(date +%s) - t0)) s)"
  else
    failed=1
    say "[FAILED] $name ($(($(date +%s) - t0)) s, exit $rc); last lines of $logs/$name.log:"
    tail -n 15 "$logs/$name.log" | sed 's/^/           /' | tee -a "$report" >/dev/null
  fi
  return $rc
}

gpu=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then gpu=1; fi
mode=$([ $gpu = 1 ] && echo "GPU" || echo "emulated (no GPU here)")
say "ftrain gpu_check, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), mode: $mode"
say "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
[ $gpu = 1 ] && say "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader)"
missing=""
for tool in cmake ninja g++ python3; do command -v $tool >/dev/null || missing="$missing $tool"; done
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || missing="$missing nvcc"
[ -n "$missing" ] && say "missing tools:$missing (tools/setup.sh installs them where a package mirror is reachable)"

# ---- 1. build ----
jobs=$(nproc)
if [ $gpu = 1 ]; then
  step build bash -c "cmake -S . -B build-gpu -G Ninja -DFT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=native >/dev/null && \
                      cmake --build build-gpu -j $jobs"
  bdir=build-gpu
else
  step build bash -c "cmake -S . -B build -G Ninja -DFT_CUDA=AUTO >/dev/null && cmake --build build -j $jobs"
  bdir=build
fi
ftrain=$bdir/tools/ftrain

# ---- 2. tests on the device ----
if [ $gpu = 1 ]; then
  step ctest_gpu ctest --test-dir $bdir --output-on-failure -j 4 -L gpu
  step ctest_emu_attention ctest --test-dir $bdir --output-on-failure -R "FlashAttention|TrainerSyncs"
else
  step ctest_emu ctest --test-dir $bdir --output-on-failure -j "$jobs" -L emu
fi

# ---- 3. the two jobs, f32 and bf16 ----
data=""
for d in gpu_data "${FT_DATA_DIR:-$HOME/.cache/ftrain/data}"; do
  [ -f "$d/minilm/model.safetensors" ] && [ -f "$d/rotten_tomatoes/train.csv" ] && data=$d && break
done
cifar="${FT_SHARED_DIR:-$root/../shared}/data/cifar10"
[ -d "$root/shared/data/cifar10" ] && cifar="$root/shared/data/cifar10"
device=$([ $gpu = 1 ] && echo cuda:0 || echo cpu)
steps=$([ $gpu = 1 ] && echo 300 || echo 8)
# train_rate LOG: the train_samples_per_second the run printed.
train_rate() { grep -E '^ *train_samples_per_second' "$1" | tail -1 | awk '{print $2}'; }
for precision in f32 bf16; do
  flag=$([ $precision = bf16 ] && echo --bf16 || echo "")
  if [ -n "$data" ]; then
    if step bert_$precision $ftrain train --config configs/rotten_tomatoes.yaml --model_name_or_path "$data/minilm" \
      --train_file "$data/rotten_tomatoes/train.csv" --output_dir runs/gpu_check/bert_$precision \
      --overwrite_output_dir --device $device --max_steps $steps --eval_strategy no --save_strategy no $flag; then
      say "         BERT $precision on $device: $(train_rate $logs/bert_$precision.log) train samples/s ($steps steps)"
    fi
  else
    say "[skip]   bert_$precision: no MiniLM / Rotten Tomatoes data (run tools/gpu_check.sh --pack and carry gpu_data)"
  fi
  if [ -d "$cifar/train" ]; then
    if step resnet_$precision $ftrain train --config configs/cifar10_resnet18.yaml --train_dir "$cifar/train" \
      --output_dir runs/gpu_check/resnet_$precision --overwrite_output_dir --device $device --max_steps $steps \
      --eval_strategy no --save_strategy no $flag; then
      say "         ResNet-18 $precision on $device: $(train_rate $logs/resnet_$precision.log) train samples/s ($steps steps)"
    fi
  else
    say "[skip]   resnet_$precision: no CIFAR-10 images at $cifar"
  fi
done

# ---- 4. microbenchmarks ----
if [ $gpu = 1 ]; then
  if step bench_cuda $bdir/bench/ft_bench_cuda --benchmark_min_time=0.2 \
    --benchmark_filter='attention|layer_norm|adamw|grad_norm|gemm'; then
    grep -h "^ceilings\|^cuDNN" $logs/bench_cuda.log | sed 's/^/         /' | tee -a "$report" >/dev/null
    grep -h "^BM_" $logs/bench_cuda.log | sed 's/^/         /' | tee -a "$report" >/dev/null
  fi
else
  if step bench_cpu $bdir/bench/ft_bench_kernels --benchmark_min_time=0.1 \
    --benchmark_filter='attention|layer_norm|adamw'; then
    grep -h "^BM_" $logs/bench_cpu.log | sed 's/^/         (CPU form) /' | tee -a "$report" >/dev/null
  fi
fi
# ---- 5. data parallel: the all-reduce bus bandwidth (nccl-tests' busbw) ----
mpirun_=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
ngpu=0
[ $gpu = 1 ] && ngpu=$(nvidia-smi -L | wc -l)
if [ "$ngpu" -ge 2 ]; then
  if step allreduce_nccl "${mpirun_[@]}" -np "$ngpu" $bdir/bench/ft_bench_allreduce_cuda --device cuda --max_mb 256; then
    sed 's/^/         /' $logs/allreduce_nccl.log | tee -a "$report" >/dev/null
  fi
else
  say "[skipped] allreduce_nccl: NCCL's bus bandwidth needs 2 or more GPUs (this machine has $ngpu); MPI on the CPU instead"
  if step allreduce_mpi "${mpirun_[@]}" -np 2 -x OMP_NUM_THREADS=1 $bdir/bench/ft_bench_allreduce --max_mb 64; then
    sed 's/^/         (CPU, MPI) /' $logs/allreduce_mpi.log | tee -a "$report" >/dev/null
  fi
fi
say "report: $report; logs: $logs/"
exit $failed
