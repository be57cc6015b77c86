#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine (as root), builds dgm and runs the whole
# test suite. CUDA tests skip, with the reason, where no GPU is usable.
#   scripts/test.sh             release build in build/
#   scripts/test.sh --sanitize  CPU-only build under ASan + UBSan in build-asan/
# Every option the suite relies on is set here, whatever an earlier command (the
# quickstart, a user's own cmake) left in the folder's cache; the run fails when ctest
# finds no test or runs fewer than the test binary defines.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh dataset-fashion-mnist
common=(-DDGM_BUILD_TESTS=ON -DDGM_FUZZ=OFF)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  cmake -S . -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDGM_CUDA=OFF -DDGM_SANITIZE=ON \
        -DDGM_BUILD_BENCHMARKS=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
else
  dir=build
  cmake -S . -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE=Release -DDGM_SANITIZE=OFF -DDGM_BUILD_BENCHMARKS=ON
fi
cmake --build "$dir" -j"$JOBS"
log="$dir/ctest-output.log"
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j"$JOBS" 2>&1 | tee "$log"
bash scripts/check-test-count.sh "$dir" "$log"
