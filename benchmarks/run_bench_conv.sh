#!/usr/bin/env bash
# The convolution benchmark end to end: bench_conv (dgm through oneDNN, and the GEMM floor
# of the im2col method), bench_conv again with DGM_CPU_CONV=im2col (dgm's own im2col +
# OpenBLAS: the method the choice was made against), and the PyTorch peer
# (peers/torch_conv.py) under 1 and 2 torch threads, its faster setting kept per shape.
# Prints one table: ms per forward + backward and the ratio peer / dgm (above 1: dgm is
# faster).
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
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run_bench_conv.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"

echo "== dgm bench_conv ($(date -u +%F), $(uname -m))"
load_warning
[[ ${NO_BUILD:-0} = 1 ]] || bench_build bench_conv
BENCH=$BUILD_DIR/benchmarks/bench_conv
"$BENCH" "${quick[@]}" | tee "$WORK/dgm.log"
echo
echo "== the same with DGM_CPU_CONV=im2col (dgm's im2col + OpenBLAS)"
DGM_CPU_CONV=im2col "$BENCH" "${quick[@]}" | sed 's/"what":"dgm"/"what":"im2col"/' |
  tee "$WORK/im2col.log"
if ((peer)); then
  for t in 1 2; do
    echo
    echo "== PyTorch peer, $t thread(s)"
    "$PYTHON" "$ROOT/benchmarks/peers/torch_conv.py" --threads "$t" "${quick[@]}" | tee "$WORK/peer_t$t.log"
  done
fi

"$PYTHON" - "$WORK" <<'PY'
import glob, json, os, sys
work = sys.argv[1]
rec = {}
for path in glob.glob(os.path.join(work, "*.log")):
    for line in open(path):
        if line.startswith("json: "):
            r = json.loads(line[6:])
            key = (r["shape"], r["what"])
            if key not in rec or r["seconds"] < rec[key]["seconds"]:
                rec[key] = r  # the peer's faster thread setting
shapes = []
for (s, _) in rec:
    if s not in shapes:
        shapes.append(s)
order = [l.split()[0] for l in open(os.path.join(work, "dgm.log")) if l.strip() and not l.startswith(("json", "shape"))]
print()
print("%-24s %9s %9s %9s %9s %11s" % ("shape", "dgm ms", "im2col ms", "torch ms", "GFLOP/s", "torch/dgm"))
worst = None
for s in order:
    d, i, t = rec.get((s, "dgm")), rec.get((s, "im2col")), rec.get((s, "torch"))
    ratio = t["seconds"] / d["seconds"] if t and d else None
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
