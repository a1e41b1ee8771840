#!/usr/bin/env bash
# ftrain inspect on the real all-MiniLM-L6-v2 checkpoint, then on a truncated and a corrupted copy:
# those must give exactly one error line on stderr and a non-zero exit status.
set -uo pipefail
ftrain=$1
model=${FT_DATA_DIR:-$HOME/.cache/ftrain/data}/minilm
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$model/model.safetensors" ] || fail "$model/model.safetensors missing: run tools/fetch_data.sh"

out=$("$ftrain" inspect "$model") || fail "inspect exited $?"
echo "$out" | grep -q "104 tensors, 22,713,216 parameters" || fail "unexpected summary: $(echo "$out" | head -1)"
echo "$out" | grep -qE "^encoder.layer.5.output.dense.weight +F32 +\[384, 1536\] +2,359,296$" || fail "tensor row missing"
echo "$out" | grep -q "config.json: model_type bert, 6 layers, hidden 384, 12 heads" || fail "config summary missing"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check_error() {  # file expected-substring
  local err rc
  err=$("$ftrain" inspect "$1" 2>&1 >/dev/null)
  rc=$?
  [ $rc -ne 0 ] || fail "inspect $1 succeeded"
  [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "more than one error line: $err"
  echo "$err" | grep -q "^ftrain: error: .*$2" || fail "unexpected error: $err"
}
head -c 50000000 "$model/model.safetensors" > "$tmp/truncated.safetensors"
check_error "$tmp/truncated.safetensors" "(truncated)"
cp "$model/model.safetensors" "$tmp/corrupt.safetensors"
printf '\x7a\x7a\x7a' | dd of="$tmp/corrupt.safetensors" bs=1 seek=20 conv=notrunc status=none
check_error "$tmp/corrupt.safetensors" "safetensors"
check_error "$tmp/missing.safetensors" "cannot open"
echo "inspect: 1 passed, 0 failed"
