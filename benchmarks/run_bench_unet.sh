#!/usr/bin/env bash
# The UNet benchmark end to end: one training step of the default UNet at batch 128
# (bench_unet: dgm's median s/step and peak memory) against the PyTorch peer's same step
# (peers/torch_convnets.py --bench) under 1 and 2 torch threads, the faster kept; then
# the peer's strict-load check of dgm's five convolutional networks (bench_unet --export,
# torch_convnets.py --check), which fails the run on a mismatch.
#
# Usage: benchmarks/run_bench_unet.sh [--quick] [--no-peer]
# Environment: BUILD_DIR (default build), JOBS, PYTHON (default /usr/bin/python3), WORK,
# NO_BUILD=1 (use the built binaries as they are)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-unet.XXXXXX)}
mkdir -p "$WORK"
steps=10 peer=1
for a in "$@"; do
  case $a in
    --quick) steps=3 ;;
    --no-peer) peer=0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run_bench_unet.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"

echo "== dgm bench_unet ($(date -u +%F), $(uname -m))"
load_warning
[[ ${NO_BUILD:-0} = 1 ]] || bench_build bench_unet
BENCH=$BUILD_DIR/benchmarks/bench_unet
"$BENCH" --steps "$steps" | tee "$WORK/dgm.log"
if ((peer)); then
  for t in 1 2; do
    "$PYTHON" "$ROOT/benchmarks/peers/torch_convnets.py" --bench --steps "$steps" --threads "$t" |
      tee "$WORK/peer_t$t.log"
  done
  echo
  echo "== the peer loads dgm's networks strictly and reproduces their outputs"
  "$BENCH" --export "$WORK"
  "$PYTHON" "$ROOT/benchmarks/peers/torch_convnets.py" --check "$WORK" | tee "$WORK/check.log"
fi

"$PYTHON" - "$WORK" <<'PY'
import glob, json, os, sys
work = sys.argv[1]
dgm, peer, checks = None, None, []
for path in sorted(glob.glob(os.path.join(work, "*.log"))):
    for line in open(path):
        if not line.startswith("json: "):
            continue
        r = json.loads(line[6:])
        if r.get("bench") == "unet" and r["what"] == "dgm":
            dgm = r
        elif r.get("bench") == "unet" and (peer is None or r["seconds_per_step"] < peer["seconds_per_step"]):
            peer = r
        elif r.get("bench") == "convnets_check":
            checks.append(r)
out = dict(bench="unet_summary", batch=dgm["batch"], dgm_s=dgm["seconds_per_step"],
           dgm_rss_mib=dgm["peak_rss_mib"], dgm_arena_mib=dgm["arena_peak_mib"],
           peer_s=peer and peer["seconds_per_step"], peer_threads=peer and peer["threads"],
           peer_rss_mib=peer and peer["peak_rss_mib"],
           strict_load=[c["net"] for c in checks if c["ok"]],
           max_abs_diff=max((c["max_abs_diff"] for c in checks), default=None))
print()
print("dgm %.3f s/step, peak RSS %.0f MiB" % (out["dgm_s"], out["dgm_rss_mib"]))
if peer:
    print("PyTorch (%d threads) %.3f s/step, peak RSS %.0f MiB; dgm / PyTorch %.2f" % (
        out["peer_threads"], out["peer_s"], out["peer_rss_mib"], out["dgm_s"] / out["peer_s"]))
print("json: " + json.dumps(out))
PY
