#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and libFuzzer in
# build-fuzz/ (CPU only) and runs each for SECONDS (default 30). Exits non-zero when a
# target finds a crash, leak or timeout, or does not build. Run as root on Debian: it
# installs clang, its fuzzer runtime and OpenMP only when they are missing.
#
#   scripts/fuzz.sh [SECONDS]
#
# Seeds: tests/fuzz/corpus/<target>/ (copied, never written to); a dictionary:
# tests/fuzz/corpus/<target>.dict. New inputs go to build-fuzz/corpus/<target>/, crash
# reproducers to build-fuzz/artifacts/<target>/ (rerun one: build-fuzz/tests/fuzz/<target>
# <file>). Extra libFuzzer flags: FUZZ_ARGS="-max_len=8192 ...".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]   (SECONDS: a positive integer, default 30)" >&2
  exit 2
fi

# Installs the Debian packages among "$@" that are not installed yet.
install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "fuzz.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# ---- what the library builds with, then clang, its fuzzer runtime and OpenMP ----
install_missing cmake make pkg-config libopenblas-dev libjansson-dev zlib1g-dev libpng-dev
command -v clang >/dev/null 2>&1 || install_missing clang
clang_major=$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n1)
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
  >"$probe_dir/probe.c"
printf '#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n' \
  >"$probe_dir/omp.c"
need=()
clang -fsanitize=fuzzer,address "$probe_dir/probe.c" -o "$probe_dir/probe" >/dev/null 2>&1 ||
  need+=("libclang-rt-${clang_major}-dev")
clang -fopenmp "$probe_dir/omp.c" -o "$probe_dir/omp" >/dev/null 2>&1 ||
  need+=("libomp-${clang_major}-dev")
if ((${#need[@]})); then install_missing "${need[@]}"; fi
clang -fsanitize=fuzzer,address "$probe_dir/probe.c" -o "$probe_dir/probe" || {
  echo "fuzz.sh: clang ${clang_major} cannot link -fsanitize=fuzzer (libclang-rt-${clang_major}-dev?)" >&2
  exit 1
}
clangxx=clang++
command -v clang++ >/dev/null 2>&1 || clangxx="clang++-${clang_major}"

# ---- build ----
dir=build-fuzz
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER="$clangxx" \
      -DDGM_CUDA=OFF -DDGM_FUZZ=ON -DDGM_BUILD_TESTS=OFF -DDGM_BUILD_BENCHMARKS=OFF
cmake --build "$dir" --target dgm_fuzz_targets -j"$JOBS"

# ---- run ----
targets=()
for src in tests/fuzz/fuzz_*.c; do
  [ -e "$src" ] && targets+=("$(basename "$src" .c)")
done
if ((${#targets[@]} == 0)); then
  echo "fuzz.sh: no tests/fuzz/fuzz_*.c targets" >&2
  exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}"
failed=()
summary=()
for t in "${targets[@]}"; do
  exe="$dir/tests/fuzz/$t"
  corpus="$dir/corpus/$t"
  artifacts="$dir/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [ -f "tests/fuzz/corpus/$t.dict" ] && args+=(-dict="tests/fuzz/corpus/$t.dict")
  seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds+=("tests/fuzz/corpus/$t")
  # shellcheck disable=SC2206
  args+=(${FUZZ_ARGS:-})
  echo "==== $t: ${seconds}s ===="
  log="$dir/$t.log"
  if [ ! -x "$exe" ]; then
    echo "fuzz.sh: $exe was not built" >&2
    failed+=("$t (not built)")
    continue
  fi
  set +e
  "$exe" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  tail -n 12 "$log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | awk '{print $2}')
  if [ "$rc" -ne 0 ]; then
    failed+=("$t (exit $rc; see $log and $artifacts/)")
    summary+=("$t: FAILED, exit $rc after ${runs:-?} runs")
  else
    summary+=("$t: ok, ${runs:-?} runs, coverage ${cov:-?}, corpus $(ls "$corpus" | wc -l) files")
  fi
done

echo "==== fuzz summary (${seconds}s per target) ===="
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz.sh: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets ran ${seconds}s each without a crash"
