#!/usr/bin/env bash
# The 2-D RealNVP benchmark end to end: dgm and a PyTorch RealNVP of the same architecture
# (benchmarks/peers/torch_realnvp2d.py) trained side by side on moons (sklearn's
# make_moons, noise 0.1, raw coordinates) and FFJORD's 8 gaussians, 15,000 steps each (the
# issue's target: dgm's test NLL within the peer's + 0.02 nats, and its time per step within
# 1.25x of the GEMM-only time of a step).
#
# Steps:
#   data   numpy writes, per data set, 20,000 training and 5,000 test rows (float32 .npy,
#          fixed seeds: moons 1/2, 8 gaussians 3/4) and the NLL of the true density on the
#          test rows (8 gaussians: the mixture itself; moons: the noise convolved with the
#          two arcs, t uniform, integrated numerically), the floor any model can reach;
#   speed  bench_flow2d on the moons training file under OPENBLAS_NUM_THREADS 1 and 2: dgm's
#          seconds per 1,000 steps (the median of its timed windows) and the GEMM floor of
#          the same run; the faster setting (by that median) trains dgm below. Then the
#          peer's timing sweep, torch threads {1,2} x OPENBLAS_NUM_THREADS {1,2}, each
#          setting's time the median of its timed windows too; the fastest trains the
#          peer. A setting with more threads is taken only when it beats the
#          fewer-threaded best by THREAD_MARGIN (5 %): this network's GEMMs are small
#          (512x64x64 at most), a second thread gains little on them, and on a machine
#          with other work a spinning OpenBLAS thread can make a whole run several times
#          slower than its short timing promised. (Both programs train the same network on
#          rows of the same size: their speed does not depend on the data set, so the sweep
#          runs once.)
#   train  per data set: `dgm train realnvp --data train.npy --steps N --device cpu`, then
#          `dgm eval CKPT --data test.npy` (nll, nats per sample); the peer the same steps
#          from the same seed, its test NLL on the same file; and, as a check that the two
#          are one model, dgm's checkpoint loaded into the peer's model (--eval-dgm): its
#          test NLL there must equal dgm eval's (to 1e-4);
#   report per data set: the test NLLs, dgm − peer against the target +0.02, seconds per
#          1,000 steps of both (the median timed window, both sides, and the training run's
#          whole-run mean), peer/dgm, dgm/floor; JSON lines (prefix "json: ", bench
#          "flow2d_summary").
#
# Usage: benchmarks/run_bench_flow2d.sh [--quick] [--steps N] [--no-peer]
#   --quick     a smoke run: 1,000 training steps, bench_flow2d --quick, a short peer sweep
#   --steps N   training steps of both (default 15000, the issue's; 1000 with --quick)
#   --no-peer   dgm only
# Environment:
#   BUILD_DIR        build folder (default build); configured Release and built if needed
#   JOBS             parallel build jobs (default 1)
#   SEED             training seed of dgm and the peer (default 0)
#   DGM_BLAS_THREADS OPENBLAS_NUM_THREADS values bench_flow2d runs under; dgm trains under
#                    the fastest (default "1 2"; "1": skip the comparison)
#   THREAD_MARGIN    how much faster (a fraction) a setting with more threads must time
#                    to be taken (default 0.05)
#   BENCH_ARGS       arguments of bench_flow2d (default none: 3 windows of 1000 steps;
#                    --quick adds --quick)
#   PEER_TIME_ARGS   the peer's timing arguments, the median of its windows taken
#                    (default --time-only 1000 --windows 2; with --quick: --time-only 200
#                    --windows 2 --warmup 20)
#   PEER_TIMEOUT     seconds one peer timing setting may take before it is skipped (default
#                    600; 120 with --quick): oversubscribed threads on a busy machine crawl
#   PYTHON           python with torch and numpy (default /usr/bin/python3, Debian's)
#   WORK             folder for data, logs and checkpoints (default: a fresh one under /tmp)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-1}
SEED=${SEED:-0}
BENCH_ARGS=${BENCH_ARGS:-}
PYTHON=${PYTHON:-/usr/bin/python3}
PEER=$ROOT/benchmarks/peers/torch_realnvp2d.py
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-flow2d.XXXXXX)}
mkdir -p "$WORK"

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"
quick=0 peer=1 steps=''  # bench_steps_args sets them from the arguments
bench_steps_args "$0" "$@"
if ((quick)); then
  steps=${steps:-1000}
  BENCH_ARGS="${BENCH_ARGS:+$BENCH_ARGS }--quick"
  PEER_TIME_ARGS=${PEER_TIME_ARGS:---time-only 200 --windows 2 --warmup 20}
  PEER_TIMEOUT=${PEER_TIMEOUT:-120}
else
  steps=${steps:-15000}
  PEER_TIME_ARGS=${PEER_TIME_ARGS:---time-only 1000 --windows 2}
  PEER_TIMEOUT=${PEER_TIMEOUT:-600}
fi
DGM_BLAS_THREADS=${DGM_BLAS_THREADS:-1 2}
DATASETS="moons gauss8"
THREAD_MARGIN=${THREAD_MARGIN:-0.05}
TARGET=0.02 # the issue's: dgm's test NLL <= the peer's + 0.02 nats


echo "== dgm bench_flow2d ($(date -u +%F), $(uname -m), $(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
echo "work folder: $WORK; $steps training steps per run, seed $SEED"
load_warning
"$PYTHON" -c "import numpy" 2>/dev/null ||
  { echo "run_bench_flow2d.sh: $PYTHON has no numpy (apt-get install python3-numpy)" >&2; exit 1; }

# ---- build ----
bench_build bench_flow2d
DGM=$BUILD_DIR/dgm
BENCH=$BUILD_DIR/benchmarks/bench_flow2d

# ---- data, and the true density's NLL on the test rows ----
echo
echo "== data (numpy): 20,000 training + 5,000 test rows each"
"$PYTHON" - "$WORK" "$ROOT/benchmarks/peers" <<'EOF' | tee "$WORK/data.log"
import json, math, sys
import numpy as np

work = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from toy2d_data import GAUSS8_CENTRES, GAUSS8_STD, gauss8, make_moons, mixture_nll, moons_nll  # noqa: E402



sets = {
    "moons": (make_moons(20000, 0.1, np.random.RandomState(1)),
              make_moons(5000, 0.1, np.random.RandomState(2)),
              lambda x: moons_nll(x, 0.1)),
    "gauss8": (gauss8(20000, np.random.RandomState(3)), gauss8(5000, np.random.RandomState(4)),
               lambda x: mixture_nll(x, GAUSS8_CENTRES, GAUSS8_STD)),
}
for name, (train, test, true_nll) in sets.items():
    np.save("%s/%s_train.npy" % (work, name), train.astype(np.float32))
    np.save("%s/%s_test.npy" % (work, name), test.astype(np.float32))
    nll = true_nll(test.astype(np.float32).astype(np.float64))
    print("%-7s train %s, test %s; the true density's test NLL %.4f nats"
          % (name, train.shape, test.shape, nll))
    print("json: " + json.dumps(dict(bench="flow2d_data", dataset=name, train=len(train),
                                     test=len(test), true_nll=nll)))
EOF

# ---- speed: dgm against its GEMM floor, per OpenBLAS thread count ----
# shellcheck disable=SC2086
dgm_sweep bench_flow2d "bench_flow2d --data moons_train.npy${BENCH_ARGS:+ $BENCH_ARGS}" \
  seconds_per_1k_steps "$THREAD_MARGIN" --data "$WORK/moons_train.npy" --seed "$SEED" $BENCH_ARGS
echo
print_dgm_table
echo "dgm trains with OPENBLAS_NUM_THREADS=$dgm_ob (the fastest; more threads only when" \
     "$(calc "round(100 * $THREAD_MARGIN)") % faster)"

# ---- speed: the peer's sweep over torch threads x OpenBLAS threads ----
peer_s='' peer_t='' peer_ob='' peer_adam=''
if ((peer)); then
  "$PYTHON" -c "import torch" ||
    { echo "the peer needs torch for $PYTHON (apt-get install python3-torch)"; exit 1; }
  echo
  echo "== PyTorch peer timing on moons ($PEER_TIME_ARGS per setting)"
  # shellcheck disable=SC2086
  peer_sweep peer_time seconds_per_1k_steps "s/1k steps" "$THREAD_MARGIN" \
    --data "$WORK/moons_train.npy" --seed "$SEED" $PEER_TIME_ARGS
  [[ -n $peer_s ]] || { echo "run_bench_flow2d.sh: every peer setting failed" >&2; exit 1; }
  echo "the peer trains with torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob" \
       "(the fastest; more threads only when $(calc "round(100 * $THREAD_MARGIN)") % faster)"
fi

# ---- train and evaluate, per data set ----
for ds in $DATASETS; do
  echo
  echo "== $ds: dgm train realnvp --steps $steps (OPENBLAS_NUM_THREADS=$dgm_ob)"
  OPENBLAS_NUM_THREADS=$dgm_ob "$DGM" train realnvp --data "$WORK/${ds}_train.npy" \
    --steps "$steps" --device cpu --seed "$SEED" --out "$WORK/dgm-$ds" >"$WORK/dgm_train_$ds.log"
  tail -2 "$WORK/dgm_train_$ds.log"
  OPENBLAS_NUM_THREADS=$dgm_ob "$DGM" eval "$WORK/dgm-$ds/checkpoint.safetensors" \
    --data "$WORK/${ds}_test.npy" --device cpu --metric nll | tee "$WORK/dgm_eval_$ds.json"
  if ((peer)); then
    "$PYTHON" "$PEER" --eval-dgm "$WORK/dgm-$ds/checkpoint.safetensors" \
      --test "$WORK/${ds}_test.npy" >"$WORK/peer_eval_dgm_$ds.log"
    grep -v '^json: ' "$WORK/peer_eval_dgm_$ds.log"
    echo "== $ds: the peer, $steps steps (torch threads $peer_t, OPENBLAS_NUM_THREADS=$peer_ob)"
    OPENBLAS_NUM_THREADS=$peer_ob "$PYTHON" "$PEER" --data "$WORK/${ds}_train.npy" \
      --test "$WORK/${ds}_test.npy" --steps "$steps" --seed "$SEED" --threads "$peer_t" \
      >"$WORK/peer_train_$ds.log"
    grep -v '^json: ' "$WORK/peer_train_$ds.log" | tail -2
  fi
done

# ---- summary ----
echo
echo "== summary (cpu, $steps steps, seed $SEED$( ((quick)) && echo ', quick: NOT the issue'"'"'s 15k-step run'))"
echo "dgm:  OPENBLAS_NUM_THREADS=$dgm_ob; $dgm_blas"
if ((peer)); then
  echo "peer: PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)'), Adam $peer_adam," \
       "torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob"
fi
"$PYTHON" - "$WORK" "$steps" "$quick" "$peer" "$TARGET" "$dgm_s" "$floor_s" "${peer_s:-nan}" <<'EOF'
import json, math, sys

work, steps, quick, peer, target = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", \
    sys.argv[4] == "1", float(sys.argv[5])
dgm_s, floor_s, peer_s = (float(v) for v in sys.argv[6:9])


def jlines(path):
    return [json.loads(l[6:]) for l in open(path) if l.startswith("json: ")]


true_nll = {d["dataset"]: d["true_nll"] for d in jlines(work + "/data.log")}
for ds in ("moons", "gauss8"):
    dgm_nll = json.load(open("%s/dgm_eval_%s.json" % (work, ds)))["nll"]
    # dgm train's whole-run time: elapsed_s at the last logged step (the loop's own clock)
    last = [json.loads(l) for l in open("%s/dgm-%s/metrics.jsonl" % (work, ds))][-1]
    dgm_run = last["elapsed_s"] * 1000.0 / last["step"]
    r = dict(bench="flow2d_summary", dataset=ds, steps=steps, quick=quick,
             true_nll=true_nll[ds], dgm_nll=dgm_nll, dgm_s=dgm_s, dgm_run_s=dgm_run,
             floor_s=floor_s, dgm_over_floor=dgm_s / floor_s, floor_target_met=dgm_s <= 1.25 * floor_s)
    print()
    print("%s (true density: %.4f nats)" % (ds, true_nll[ds]))
    print("  %-34s %10s %10s" % ("", "dgm", "peer" if peer else ""))
    if peer:
        p = [d for d in jlines("%s/peer_train_%s.log" % (work, ds)) if d["what"] == "result"][-1]
        diff = dgm_nll - p["test_nll"]
        met = diff <= target
        c = [d for d in jlines("%s/peer_eval_dgm_%s.log" % (work, ds))][-1]["test_nll"]
        same = abs(c - dgm_nll) < 1e-4
        r.update(peer_nll=p["test_nll"], nll_diff=diff, nll_target_met=met, peer_s=peer_s,
                 peer_stat="median",
                 peer_run_s=p["seconds_per_1k_steps"], peer_over_dgm=peer_s / dgm_s,
                 dgm_ckpt_in_peer_nll=c, same_model=same)
        print("  %-34s %10.4f %10.4f   dgm - peer = %+.4f (target <= %+.2f: %s)"
              % ("test NLL, nats per sample", dgm_nll, p["test_nll"], diff, target,
                 "met" if met else "NOT met"))
        print("  %-34s %10.4f %10s   dgm eval: %.4f (%s)"
              % ("dgm's checkpoint in the peer", c, "", dgm_nll,
                 "the same model" if same else "MISMATCH: not the same model"))
        print("  %-34s %10.3f %10.3f   peer / dgm = %.2f"
              % ("s/1k steps, median timed window", dgm_s, peer_s, peer_s / dgm_s))
        print("  %-34s %10.3f %10.3f   peer / dgm = %.2f"
              % ("s/1k steps, the training run", dgm_run, p["seconds_per_1k_steps"],
                 p["seconds_per_1k_steps"] / dgm_run))
    else:
        print("  %-34s %10.4f" % ("test NLL, nats per sample", dgm_nll))
        print("  %-34s %10.3f" % ("s/1k steps, median timed window", dgm_s))
        print("  %-34s %10.3f" % ("s/1k steps, the training run", dgm_run))
    print("  %-34s %10.3f %10s   dgm / floor = %.2f (target <= 1.25: %s)"
          % ("GEMM floor, s/1k steps", floor_s, "", dgm_s / floor_s,
             "met" if dgm_s <= 1.25 * floor_s else "NOT met"))
    print("json: " + json.dumps(r))
EOF
echo
echo "timed windows: the median window of bench_flow2d and of the peer's fastest setting,"
echo "both on moons (the speed is the same on either data set); the training run: its"
echo "whole-run mean under the same settings."
echo "logs: $WORK"
