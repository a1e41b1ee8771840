# Sourced by the benchmark scripts whose peer is Python (e2e_train.sh, lora_train.sh), after they set
# $threads: checks that the tools venv has the peer's modules, builds ftrain, fetches the data, makes
# $tmp (removed at exit) and prints the machine line with the modules' versions.
# Usage: source bench/peer_env.sh NAME MODULE...   (sets py, data, tmp, cpu)
bench_name=$1
shift
py="${FT_GEN_VENV:-$HOME/.venvs/ftrain-gen}/bin/python"
data="${FT_DATA_DIR:-$HOME/.cache/ftrain/data}"
[ -x "$py" ] || { echo "$bench_name: no $py (run tools/setup_generator_env.sh)" >&2; exit 1; }
"$py" -c "import $(IFS=,; echo "$*")" || { echo "$bench_name: $py lacks one of: $*" >&2; exit 1; }
bash tools/build_ftrain.sh >/dev/null
bash tools/fetch_data.sh >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
versions=""
for module in "$@"; do versions+=", $module $("$py" -c "import $module; print($module.__version__)")"; done
echo "machine: $cpu, $(nproc) cores; $threads threads$versions"
