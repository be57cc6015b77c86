#!/usr/bin/env bash
# Installs the Debian packages dgm builds and tests with (run as root). Skips apt when
# everything is already there. The CUDA toolkit is optional: found when present.
set -euo pipefail
packages=(cmake make gcc g++ pkg-config libopenblas-dev libopenblas-openmp-dev libgtest-dev libjansson-dev zlib1g-dev libpng-dev libdnnl-dev)
packages+=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
