#!/usr/bin/env bash
# Installs everything ftrain needs to build and test, from Debian's packages. Idempotent: packages
# already present are left alone, and apt-get runs only when something is missing.
# The tests need no Python package today (the golden fixtures are committed); the generator scripts
# that write them use tools/setup_generator_env.sh instead.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libopenblas-dev libopenblas-openmp-dev libdnnl-dev libopenmpi-dev openmpi-bin libstb-dev libjpeg62-turbo-dev nlohmann-json3-dev libutf8proc-dev libcli11-dev
  libboost-context-dev libyaml-cpp-dev zlib1g-dev libcpp-httplib-dev
  googletest libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev libomp-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} packages present"
fi

if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: no CUDA toolkit found; the build will be CPU-only (FT_CUDA=AUTO)"
fi
