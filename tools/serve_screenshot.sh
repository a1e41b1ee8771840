#!/usr/bin/env bash
# The page of `ftrain serve` in headless Chromium (Debian's chromium): serves MODEL_DIR on a free
# loopback port, opens /?text=REVIEW (the page types it and predicts), checks in the rendered DOM that
# a bar per label was drawn, and writes a screenshot.
#   bash tools/serve_screenshot.sh MODEL_DIR [OUT.png] ["review text"]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=$1
out=$(realpath -m "${2:-runs/serve_page.png}")
text=${3:-"A gripping, beautifully acted film that stays with you long after the credits."}
ftrain=${FTRAIN:-$root/build/tools/ftrain}
command -v chromium > /dev/null || { echo "chromium is not installed (apt-get install chromium)"; exit 1; }
tmp=$(mktemp -d)
"$ftrain" serve --model_name_or_path "$model" --port 0 > "$tmp/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/serve.log" && break; sleep 0.1; done
port=$(grep -o "127.0.0.1:[0-9]*" "$tmp/serve.log" | cut -d: -f2)
[ -n "$port" ] || { cat "$tmp/serve.log"; exit 1; }
url="http://127.0.0.1:$port/?text=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$text")"
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --virtual-time-budget=8000)
chromium "${flags[@]}" --dump-dom "$url" > "$tmp/dom.html" 2> "$tmp/chromium.log"
labels=$(curl -s "http://127.0.0.1:$port/info" | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)["labels"]))')
bars=$(grep -o 'class="bar"' "$tmp/dom.html" | wc -l)
[ "$bars" -eq "$(echo "$labels" | wc -w)" ] || { echo "the page drew $bars bars for labels: $labels"; exit 1; }
for l in $labels; do grep -q "class=\"name\">$l<" "$tmp/dom.html" || { echo "no row for label $l"; exit 1; }; done
mkdir -p "$(dirname "$out")"
chromium "${flags[@]}" --window-size=900,520 --screenshot="$out" "$url" 2>> "$tmp/chromium.log"
[ -s "$out" ] || { echo "no screenshot"; cat "$tmp/chromium.log"; exit 1; }
echo "the page predicted '$text': $(grep -o 'class="name">[^<]*</span><span class="bar"[^>]*></span><span>[0-9.]*' "$tmp/dom.html" | sed -E 's/.*"name">([^<]*)<.*<span>([0-9.]*)/\1 \2/' | tr '\n' ';')"
echo "screenshot: $out"
