#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine (as root), builds dgm and runs the whole
# test suite. CUDA tests skip, with the reason, where no GPU is usable.
#   scripts/test.sh             release build in build/
#   scripts/test.sh --sanitize  CPU-only build under ASan + UBSan in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh dataset-fashion-mnist
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDGM_CUDA=OFF -DDGM_SANITIZE=ON \
        -DDGM_BUILD_BENCHMARKS=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
else
  dir=build
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$dir" -j"$JOBS"
ctest --test-dir "$dir" --output-on-failure -j"$JOBS"
