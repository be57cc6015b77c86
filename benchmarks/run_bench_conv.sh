#!/usr/bin/env bash
# The convolution benchmark end to end, per shape of benchmarks/conv_shapes.h: dgm
# (bench_conv: oneDNN, and the GEMM floor of the im2col method), dgm with
# DGM_CPU_CONV=im2col (dgm's own im2col + OpenBLAS: the method the choice was made
# against) and the PyTorch peer (peers/torch_conv.py) under 2 and 1 torch threads. The
# runs of one shape alternate (dgm, PyTorch, dgm, PyTorch) and each keeps its best
# window: on a shared machine the speed drifts by 5-20 % over minutes, and programs run
# minutes apart measured that drift, not the two libraries. Prints one table: ms per
# forward + backward and the ratio PyTorch / dgm (above 1: dgm is faster).
#
# Usage: benchmarks/run_bench_conv.sh [--quick] [--no-peer]
# Environment: BUILD_DIR (default build), JOBS, PYTHON (default /usr/bin/python3), WORK,
# NO_BUILD=1 (use the built binaries as they are)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-conv.XXXXXX)}
mkdir -p "$WORK"
quick=() peer=1
for a in "$@"; do
  case $a in
    --quick) quick=(--quick) ;;
    --no-peer) peer=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run_bench_conv.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"

echo "== dgm bench_conv ($(date -u +%F), $(uname -m))"
load_warning
[[ ${NO_BUILD:-0} = 1 ]] || bench_build bench_conv
BENCH=$BUILD_DIR/benchmarks/bench_conv
PEER=$ROOT/benchmarks/peers/torch_conv.py
shapes=$(sed -n 's/^ *{"\([a-z0-9_]*\)",.*/\1/p' "$ROOT/benchmarks/conv_shapes.h")
for s in $shapes; do
  echo "-- $s"
  "$BENCH" "${quick[@]}" --only "$s" | tee -a "$WORK/dgm.log" | grep -v '^json' | tail -n 1
  DGM_CPU_CONV=im2col "$BENCH" "${quick[@]}" --only "$s" | sed 's/"what":"dgm"/"what":"im2col"/' \
    >>"$WORK/im2col.log"
  if ((peer)); then
    "$PYTHON" "$PEER" --threads 2 "${quick[@]}" --only "$s" | tee -a "$WORK/peer.log" | grep -v '^json'
    "$BENCH" "${quick[@]}" --only "$s" >>"$WORK/dgm.log"
    "$PYTHON" "$PEER" --threads 2 "${quick[@]}" --only "$s" >>"$WORK/peer.log"
    "$PYTHON" "$PEER" --threads 1 "${quick[@]}" --only "$s" >>"$WORK/peer.log"
  fi
done

"$PYTHON" - "$WORK" $shapes <<'PY'
import json, os, sys
work, order = sys.argv[1], sys.argv[2:]
rec = {}
for name in ("dgm.log", "im2col.log", "peer.log"):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        continue
    for line in open(path):
        if line.startswith("json: "):
            r = json.loads(line[6:])
            if r["what"] == "gemm":
                continue
            key = (r["shape"], r["what"])
            if key not in rec or r["seconds"] < rec[key]["seconds"]:
                rec[key] = r  # the best window of the runs (and the peer's thread settings)
print()
print("%-24s %9s %9s %9s %9s %11s" % ("shape", "dgm ms", "im2col ms", "torch ms", "GFLOP/s", "torch/dgm"))
worst = None
for s in order:
    d, i, t = rec.get((s, "dgm")), rec.get((s, "im2col")), rec.get((s, "torch"))
    if not d:
        continue
    ratio = t["seconds"] / d["seconds"] if t else None
    if ratio is not None and (worst is None or ratio < worst[1]):
        worst = (s, ratio)
    print("%-24s %9.3f %9s %9s %9.1f %11s" % (
        s, d["seconds"] * 1e3, "%.3f" % (i["seconds"] * 1e3) if i else "-",
        "%.3f" % (t["seconds"] * 1e3) if t else "-", d["gflops"],
        "%.2f" % ratio if ratio else "-"))
    print("json: " + json.dumps(dict(bench="conv_summary", shape=s, dgm_s=d["seconds"],
                                     im2col_s=i and i["seconds"], peer_s=t and t["seconds"],
                                     peer_threads=t and t["threads"], gflops=d["gflops"])))
if worst:
    print("\nslowest against the peer: %s (torch/dgm %.2f)" % worst)
PY
