#!/usr/bin/env bash
# Creates the virtual environment the golden-fixture generators run in (tests/golden/gen_*.py),
# outside the repository. Only needed to regenerate fixtures; CI never runs it. PyPI's torch wheel
# brings several GB of CUDA libraries.
set -euo pipefail
venv="${FT_GEN_VENV:-$HOME/.venvs/ftrain-gen}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q torch==2.15.0 safetensors==0.8.0 numpy
# tools/check_tensorboard.py reads ftrain's event files with TensorBoard's own loader.
"$venv/bin/pip" install -q tensorboard
# The peers of the benchmarks: the HF Trainer (bench/e2e_train.sh), a pipeline behind FastAPI +
# uvicorn (bench/serve_load.sh), and transformers' loader for the check scripts in tools/.
"$venv/bin/pip" install -q transformers==5.23.0 fastapi==0.163.2 uvicorn==0.54.0
# GGUF: transformers' GGUF loader (tools/check_gguf_convert.py) and the writer of the tiny GGUF
# fixtures (tests/golden/gen_gguf_tiny.py); tokenizers for the BPE parity fixtures.
"$venv/bin/pip" install -q gguf==0.19.0 tokenizers==0.23.3
# PEFT: the LoRA goldens (tests/golden/gen_lora_tiny.py), tools/check_peft.py and the LoRA benchmark's
# peer (bench/lora_train.sh).
"$venv/bin/pip" install -q peft==0.21.2
echo "generator environment ready: $venv/bin/python tests/golden/gen_core_golden.py"
