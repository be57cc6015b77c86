#!/usr/bin/env bash
# The main job from a fresh Debian machine (as root): installs what dgm needs (with
# Debian's Fashion-MNIST), builds it, and trains the VAE on Fashion-MNIST on the default
# device (CUDA when a GPU is usable, else the CPU), leaving runs/vae-fashion-mnist/ with
# checkpoint.safetensors, metrics.jsonl and samples.png.
#   scripts/quickstart.sh [extra dgm train options, e.g. --epochs 1]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh dataset-fashion-mnist
# The build folder is the test command's too: configure it as a release build and leave
# its other options (tests, benchmarks) as they are; only the dgm command is built here.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDGM_SANITIZE=OFF >/dev/null
cmake --build build -j"$JOBS" --target dgm_cli
build/dgm train vae --data fashion-mnist "$@"   # the vae's defaults: 10 epochs
build/dgm eval runs/vae-fashion-mnist/checkpoint.safetensors
