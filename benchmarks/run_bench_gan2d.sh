#!/usr/bin/env bash
# The 2-D GAN benchmark end to end: dgm's time per 1,000 iterations of `dgm train gan
# --data grid25` (the median of bench_gan2d's timed windows) and its GEMM floor
# (bench_gan2d, under the fastest of OPENBLAS_NUM_THREADS {1,2} by that median), and the
# PyTorch peer's time (benchmarks/peers/torch_gan2d.py: the median of its timed windows,
# under the fastest of torch threads {1,2} x OPENBLAS_NUM_THREADS {1,2} by that median):
# peer / dgm compares two medians. With --quality, also both trained the full default
# run from one seed and their mode coverage on grid25 (dgm eval's modes, high_quality,
# reverse_kl; the peer's --eval).
#
# Usage: benchmarks/run_bench_gan2d.sh [--quick] [--no-peer] [--quality]
# Environment:
#   BUILD_DIR      build folder (default build); configured Release and built if needed
#   JOBS           parallel build jobs (default 2)
#   BENCH_ARGS     arguments of bench_gan2d (default none: 3 windows of 1000 iterations;
#                  --quick adds --quick)
#   DGM_BLAS_THREADS  OPENBLAS_NUM_THREADS values bench_gan2d runs under, the fastest
#                  dgm median taken with the floor of the same run (default "1 2"; "env": one
#                  run with the environment as it is)
#   PEER_ARGS      timing arguments of the peer, the median of its windows taken (default
#                  --iters 1000 --windows 2; with --quick: --iters 100 --windows 2
#                  --warmup 20)
#   PEER_TIMEOUT   seconds one peer setting may take before it is skipped (default 900;
#                  120 with --quick): oversubscribed threads on a busy machine crawl
#   QUALITY_SEED   seed of the --quality runs (default 0)
#   QUALITY_ITERS  iterations of the --quality runs (default 20000, dgm's default run)
#   PYTHON         python with torch (default /usr/bin/python3, Debian's)
#   WORK           folder for logs and checkpoints (default: a fresh one under /tmp)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-2}
BENCH_ARGS=${BENCH_ARGS:-}
QUALITY_SEED=${QUALITY_SEED:-0}
QUALITY_ITERS=${QUALITY_ITERS:-20000}
PYTHON=${PYTHON:-/usr/bin/python3}
PEER=$ROOT/benchmarks/peers/torch_gan2d.py
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-gan2d.XXXXXX)}
mkdir -p "$WORK"

quick=0 peer=1 quality=0
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --no-peer) peer=0 ;;
    --quality) quality=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "run_bench_gan2d.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
if ((quick)); then
  BENCH_ARGS="${BENCH_ARGS:+$BENCH_ARGS }--quick"
  PEER_ARGS=${PEER_ARGS:---iters 100 --windows 2 --warmup 20}
  PEER_TIMEOUT=${PEER_TIMEOUT:-120}
else
  PEER_ARGS=${PEER_ARGS:---iters 1000 --windows 2}
  PEER_TIMEOUT=${PEER_TIMEOUT:-900}
fi
DGM_BLAS_THREADS=${DGM_BLAS_THREADS:-1 2}

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"

echo "== dgm bench_gan2d ($(date -u +%F), $(uname -m), $(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
load_warning

# ---- build ----
bench_build bench_gan2d
DGM=$BUILD_DIR/dgm
BENCH=$BUILD_DIR/benchmarks/bench_gan2d

# ---- dgm vs its GEMM floor, per OpenBLAS thread count ----
# the fastest setting, by any margin
# shellcheck disable=SC2086
dgm_sweep bench_gan2d "bench_gan2d${BENCH_ARGS:+ $BENCH_ARGS}" seconds_per_1k_iters 0 $BENCH_ARGS

# ---- the PyTorch peer: torch threads x OpenBLAS threads ----
peer_best='' peer_cfg='' peer_adam=''
if ((peer)); then
  "$PYTHON" -c "import torch" ||
    { echo "the peer needs torch for $PYTHON (apt-get install python3-torch)"; exit 1; }
  echo
  echo "== PyTorch peer ($PEER_ARGS per setting)"
  # shellcheck disable=SC2086
  peer_sweep peer seconds_per_1k_iters "s/1k it" 0 $PEER_ARGS
  peer_best=$peer_s
  [[ -z $peer_best ]] || peer_cfg="torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob"
fi

echo
echo "== summary (cpu)"
print_dgm_table
printf 'dgm    %8.3f s/1k it (median window of bench_gan2d%s; %s)\n' "$dgm_s" \
  "${BENCH_ARGS:+ $BENCH_ARGS}" "$dgm_blas"
printf 'floor  %8.3f s/1k it (the iteration'"'"'s sgemm calls, raw OpenBLAS, same run)\n' \
  "$floor_s"
printf 'dgm / floor = %.2f\n' "$(calc "$dgm_s / $floor_s")"
summary="\"bench\":\"gan2d_summary\",\"dgm_s\":$dgm_s,\"floor_s\":$floor_s,\"dgm_over_floor\":$(calc "$dgm_s / $floor_s")"
if [[ -n $peer_best ]]; then
  printf 'peer   %8.3f s/1k it (PyTorch %s, Adam %s, median window; fastest setting: %s)\n' \
    "$peer_best" "$("$PYTHON" -c 'import torch; print(torch.__version__)')" "$peer_adam" \
    "$peer_cfg"
  printf 'peer / dgm = %.2f (median against median)\n' "$(calc "$peer_best / $dgm_s")"
  summary="$summary,\"peer_s\":$peer_best,\"peer_stat\":\"median\",\"peer_over_dgm\":$(calc "$peer_best / $dgm_s")"
fi
echo "json: {$summary,\"quick\":$( ((quick)) && echo true || echo false)}"

# ---- quality: mode coverage after a full run ----
if ((quality)); then
  echo
  echo "== quality: mode coverage of 2,500 samples after $QUALITY_ITERS iterations (seed $QUALITY_SEED)"
  "$DGM" train gan --data grid25 --device cpu --seed "$QUALITY_SEED" --steps "$QUALITY_ITERS" \
    --out "$WORK/dgm-gan" >"$WORK/dgm_train.log"
  tail -2 "$WORK/dgm_train.log"
  "$DGM" eval "$WORK/dgm-gan/checkpoint.safetensors" --data grid25 --device cpu \
    --seed "$QUALITY_SEED" --metric modes,high_quality,reverse_kl | tee "$WORK/dgm_eval.json"
  if ((peer)); then
    "$PYTHON" "$PEER" --eval --seed "$QUALITY_SEED" --eval-iters "$QUALITY_ITERS" |
      tee "$WORK/peer_eval.log" | grep -v '^json: '
    "$PYTHON" - "$WORK/dgm_eval.json" "$WORK/peer_eval.log" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = [json.loads(l[6:]) for l in open(sys.argv[2]) if l.startswith("json: ")][-1]
print("%-6s %6s %13s %11s" % ("", "modes", "high quality", "reverse KL"))
for name, r in (("dgm", d), ("peer", p)):
    print("%-6s %6d %12.1f%% %11.4f" % (name, r["modes"], 100 * r["high_quality"], r["reverse_kl"]))
print("json: " + json.dumps({"bench": "gan2d_quality", "dgm": {k: d[k] for k in
      ("modes", "high_quality", "reverse_kl")}, "peer": {k: p[k] for k in
      ("modes", "high_quality", "reverse_kl")}}))
EOF
  fi
fi
echo
echo "logs: $WORK"
