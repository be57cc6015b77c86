#!/usr/bin/env bash
# The 2-D MAF benchmark end to end: dgm's `maf` (Masked Autoregressive Flow, Papamakarios et
# al. 2017) and a PyTorch MAF of the same architecture (benchmarks/peers/torch_maf2d.py:
# ikostrikov/pytorch-flows' MAF, 5 blocks of [MADE 2 -> 64 -> 64 -> 4, BatchNormFlow,
# Reverse]) trained side by side on moons (sklearn's make_moons, noise 0.1), FFJORD's 8
# gaussians and FFJORD's checkerboard, 20,000 steps each, batch 256, Adam 1e-3, weight
# decay 1e-6. The issue's targets, per data set: dgm's test NLL <= the peer's + 0.03 nats;
# dgm's training step at least 2x faster than the peer's.
#
# Steps:
#   data   numpy writes, per data set, 20,000 training and 5,000 test rows (float32 .npy,
#          fixed seeds: moons 1/2, gauss8 3/4, checkerboard 5/6) and the NLL of the true
#          density on the test rows (moons: the noise convolved with the two arcs, t
#          uniform, integrated numerically; gauss8: the mixture itself; checkerboard:
#          log 32, uniform on 8 squares of area 4), the floor any model can reach;
#   speed  the peer on moons: --time-only windows under torch threads {1, 2} x
#          OPENBLAS_NUM_THREADS {1, 2} (bench_lib.sh's peer_sweep), the fastest by the
#          median window taken (the peer trains under it below); dgm's speed is its
#          training run's own clock (metrics.jsonl: elapsed_s at the last logged step over
#          the step). (Both train the same network on rows of the same size: their speed
#          does not depend on the data set, so the sweep runs once.) The peer flushes
#          subnormals (torch.set_flush_denormal(True)), as dgm's CPU backend does: unflushed,
#          this model's weight decay and Adam moments fill it with subnormals and its step
#          slows down about 3x as it trains (torch_maf2d.py --keep-denormals);
#   train  per data set: `dgm train maf --data train.npy --steps N --device cpu --seed SEED
#          --out DIR` (dgm's defaults are the issue's), `dgm eval DIR/checkpoint.safetensors
#          --data test.npy --metric nll`, and `dgm sample CKPT -n 10000 --seed SAMPLE_SEED`
#          timed by the wall clock (the whole command: start-up and loading included); the
#          peer the same steps from the same seed, its test NLL on the same file (its batch
#          norms' statistics from the whole training set first, as pytorch-flows does) and
#          10,000 samples (its own clock: the sampling alone); and, a check that the two
#          are one model (best effort: skipped when it fails), dgm's checkpoint loaded
#          into the peer's model (--eval-dgm: dgm's log-scale bound, its running
#          statistics): its test NLL there must equal dgm eval's (to 1e-4);
#   report per data set: the floor, the test NLLs, dgm − peer against the target +0.03,
#          s/1k training steps of both and peer/dgm against the target 2, sampling seconds
#          of 10,000 rows; JSON lines (prefix "json: ", bench "maf2d_summary").
#
# Usage: benchmarks/run_bench_maf2d.sh [--quick] [--steps N] [--no-peer]
#   --quick      a smoke run: 1,000 training steps, short peer timings
#   --steps N    training steps, dgm and the peer (default 20000, the issue's; 1000 with --quick)
#   --no-peer    dgm only
# Environment:
#   BUILD_DIR      build folder (default build); configured Release and dgm_cli built if
#                  needed (NO_BUILD=1: not built)
#   DGM            the dgm binary (default $BUILD_DIR/dgm; given: not built)
#   JOBS           parallel build jobs (default 1)
#   SEED           training seed of dgm and the peer (default 0)
#   SAMPLE_SEED    seed of dgm's 10,000 samples (default 1; the peer's use SEED + 1)
#   SAMPLES        rows sampled by each side (default 10000)
#   DGM_OB         OPENBLAS_NUM_THREADS of dgm's runs (default 1)
#   TIME_ARGS      the peer's timing arguments (default --time-only 1000 --windows 3;
#                  --quick: --time-only 200 --windows 2 --warmup 20)
#   THREAD_MARGIN  how much faster (a fraction) a peer setting with more threads must time
#                  to be taken (default 0: the fastest)
#   PEER_TIMEOUT   seconds one peer timing setting may take before it is skipped (default
#                  600; 120 with --quick)
#   PYTHON         python with torch and numpy (default /usr/bin/python3, Debian's)
#   WORK           folder for data, logs and checkpoints (default: a fresh one under /tmp)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-1}
SEED=${SEED:-0}
SAMPLE_SEED=${SAMPLE_SEED:-1}
SAMPLES=${SAMPLES:-10000}
DGM_OB=${DGM_OB:-1}
THREAD_MARGIN=${THREAD_MARGIN:-0}
PYTHON=${PYTHON:-/usr/bin/python3}
PEERS=$ROOT/benchmarks/peers
PEER=$PEERS/torch_maf2d.py
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-maf2d.XXXXXX)}
mkdir -p "$WORK"

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"
quick=0 peer=1 steps=''  # bench_steps_args sets them from the arguments
bench_steps_args "$0" "$@"
if ((quick)); then
  steps=${steps:-1000} PEER_TIMEOUT=${PEER_TIMEOUT:-120}
  TIME_ARGS=${TIME_ARGS:---time-only 200 --windows 2 --warmup 20}
else
  steps=${steps:-20000} PEER_TIMEOUT=${PEER_TIMEOUT:-600}
  TIME_ARGS=${TIME_ARGS:---time-only 1000 --windows 3}
fi
[[ $SAMPLES =~ ^[1-9][0-9]*$ ]] ||
  { echo "run_bench_maf2d.sh: SAMPLES must be a positive number" >&2; exit 2; }
DATASETS="moons gauss8 checkerboard"

openblas_coretype_for_all

echo "== dgm bench maf2d ($(date -u +%F), $(uname -m), $(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
echo "work folder: $WORK; $steps training steps, seed $SEED, $SAMPLES samples (seed $SAMPLE_SEED)"
load_warning
"$PYTHON" -c "import numpy" 2>/dev/null ||
  { echo "run_bench_maf2d.sh: $PYTHON has no numpy (apt-get install python3-numpy)" >&2; exit 1; }

# ---- build ----
bench_dgm "$0"

# ---- data, and the true density's NLL on the test rows ----
echo
echo "== data (numpy): 20,000 training + 5,000 test rows each"
"$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[2]); import toy2d_data as td
td.write_flow_toys(sys.argv[1], "maf2d", sys.argv[3:])' "$WORK" "$PEERS" moons gauss8 checkerboard | tee "$WORK/data.log"

# ---- speed: the peer's sweep over torch threads x OpenBLAS threads ----
peer_s='' peer_t='' peer_ob='' peer_adam=''
if ((peer)); then
  "$PYTHON" -c "import torch" ||
    { echo "the peer needs torch for $PYTHON (apt-get install python3-torch)"; exit 1; }
  echo
  echo "== PyTorch peer timing on moons ($TIME_ARGS per setting)"
  # shellcheck disable=SC2086
  peer_sweep peer_time seconds_per_1k_steps "s/1k steps" "$THREAD_MARGIN" \
    --data "$WORK/moons_train.npy" --seed "$SEED" $TIME_ARGS
  [[ -n $peer_s ]] || { echo "run_bench_maf2d.sh: every peer setting failed" >&2; exit 1; }
  echo "the peer trains with torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob" \
       "(Adam $peer_adam)"
fi

# ---- train, evaluate, sample ----
dgm_ob() { OPENBLAS_NUM_THREADS=$DGM_OB "$DGM" "$@"; }  # dgm under DGM_OB
for ds in $DATASETS; do
  dir=$WORK/dgm-$ds ck=$WORK/dgm-$ds/checkpoint.safetensors test=$WORK/${ds}_test.npy
  echo
  echo "== $ds: dgm train maf --steps $steps (OPENBLAS_NUM_THREADS=$DGM_OB)"
  dgm_ob train maf --data "$WORK/${ds}_train.npy" --steps "$steps" --device cpu --seed "$SEED" \
    --out "$dir" >"$WORK/dgm_train_$ds.log"
  tail -2 "$WORK/dgm_train_$ds.log"
  dgm_ob eval "$ck" --data "$test" --device cpu --metric nll | tee "$WORK/dgm_eval_$ds.json"
  t0=$EPOCHREALTIME
  dgm_ob sample "$ck" -n "$SAMPLES" --seed "$SAMPLE_SEED" --device cpu \
    -o "$WORK/dgm_samples_$ds.npy" >"$WORK/dgm_sample_$ds.log"
  t1=$EPOCHREALTIME
  echo "json: {\"dataset\": \"$ds\", \"rows\": $SAMPLES, \"seconds\": $(calc "$t1 - $t0")}" \
    >"$WORK/dgm_sample_time_$ds.log"
  echo "dgm sample -n $SAMPLES: $(calc "round($t1 - $t0, 3)") s (wall clock)"
  if ((peer)); then
    # dgm's checkpoint in the peer (best effort)
    if OPENBLAS_NUM_THREADS=$peer_ob "$PYTHON" "$PEER" --eval-dgm "$ck" --test "$test" \
         --threads "$peer_t" >"$WORK/peer_eval_dgm_$ds.log" 2>&1; then
      grep -v '^json: ' "$WORK/peer_eval_dgm_$ds.log"
    else
      echo "dgm's checkpoint in the peer: failed, skipped ($(tail -1 "$WORK/peer_eval_dgm_$ds.log"))"
    fi
    echo "== $ds: the peer, $steps steps (torch threads $peer_t, OPENBLAS_NUM_THREADS=$peer_ob)"
    OPENBLAS_NUM_THREADS=$peer_ob "$PYTHON" "$PEER" --data "$WORK/${ds}_train.npy" \
      --test "$test" --steps "$steps" --seed "$SEED" --threads "$peer_t" \
      --samples "$SAMPLES" --samples-out "$WORK/peer_samples_$ds.npy" >"$WORK/peer_train_$ds.log"
    grep -v '^json: ' "$WORK/peer_train_$ds.log" | tail -3
  fi
done

# ---- summary ----
echo
echo "== summary (cpu, $steps steps, seed $SEED$( ((quick)) && echo ', quick: NOT the issue'"'"'s 20k-step run'))"
echo "dgm: OPENBLAS_NUM_THREADS=$DGM_OB; its speed: the training run's own clock (metrics.jsonl);" \
     "its sampling: the wall clock of dgm sample"
if ((peer)); then
  echo "peer: PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)'), Adam $peer_adam," \
       "torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob; its speed: the median" \
       "timed window of the fastest setting; its sampling: its own clock (sampling alone)"
fi
"$PYTHON" - "$WORK" "$steps" "$quick" "$peer" "${peer_s:-nan}" "$DATASETS" "$SAMPLES" <<'EOF'
import json, os, sys

work, steps, quick, peer = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
peer_s, datasets, samples = float(sys.argv[5]), sys.argv[6].split(), int(sys.argv[7])
NLL_MARGIN, SPEEDUP = 0.03, 2.0


def jlines(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l[6:]) for l in open(path) if l.startswith("json: ")]


def last(path, **kw):
    hits = [d for d in jlines(path) if all(d.get(k) == v for k, v in kw.items())]
    return hits[-1] if hits else None


data = {d["dataset"]: d for d in jlines(work + "/data.log")}
fmt = "  %-36s %12s %12s   %s"
verdicts = []


def verdict(name, ok):
    verdicts.append((name, ok))
    return "met" if ok else "NOT met"


for ds in datasets:
    floor = data[ds]["true_nll"]
    r = dict(bench="maf2d_summary", dataset=ds, steps=steps, quick=quick, true_nll=floor)
    print("\nmaf on %s (%d steps; the true density's test NLL %.4f nats)" % (ds, steps, floor))
    print(fmt % ("", "dgm", "peer" if peer else "", ""))
    dn = json.load(open("%s/dgm_eval_%s.json" % (work, ds)))["nll"]
    r["dgm_nll"] = dn
    p = last("%s/peer_train_%s.log" % (work, ds), what="result") if peer else None
    if p:
        ok = dn <= p["test_nll"] + NLL_MARGIN
        r.update(peer_nll=p["test_nll"], nll_diff=dn - p["test_nll"], nll_target_met=ok)
        print(fmt % ("test NLL, nats per sample", "%.4f" % dn, "%.4f" % p["test_nll"],
                     "dgm - peer = %+.4f (target <= %+.2f: %s)"
                     % (dn - p["test_nll"], NLL_MARGIN, verdict("%s NLL" % ds, ok))))
    else:
        print(fmt % ("test NLL, nats per sample", "%.4f" % dn, "", ""))
    print(fmt % ("  over the floor", "%+.4f" % (dn - floor),
                 "%+.4f" % (p["test_nll"] - floor) if p else "", ""))
    c = last("%s/peer_eval_dgm_%s.log" % (work, ds), what="dgm_checkpoint") if peer else None
    if c and "test_nll" in c:
        same = abs(c["test_nll"] - dn) < 1e-4
        r.update(dgm_ckpt_in_peer_nll=c["test_nll"], same_model=same)
        note = "the same model" if same else "DIFFERENT (|diff| %.2g)" % abs(c["test_nll"] - dn)
        print(fmt % ("  dgm's checkpoint in the peer", "%.4f" % c["test_nll"], "",
                     "dgm eval %.4f: %s" % (dn, note)))
    # speed: training (dgm's whole run; the peer's timed windows), sampling
    logged = [json.loads(l) for l in open("%s/dgm-%s/metrics.jsonl" % (work, ds)) if l.strip()]
    logged = [d for d in logged if "elapsed_s" in d and d.get("step")][-1]
    d_run = logged["elapsed_s"] * 1000.0 / logged["step"]
    r["dgm_run_s"] = d_run
    if p:
        ok = peer_s >= SPEEDUP * d_run
        r.update(peer_s=peer_s, peer_run_s=p.get("seconds_per_1k_steps"),
                 peer_over_dgm=peer_s / d_run, speed_target_met=ok)
        print(fmt % ("s/1k steps (dgm: run; peer: timed)", "%.3f" % d_run, "%.3f" % peer_s,
                     "peer / dgm = %.2f (target >= %.1f: %s)"
                     % (peer_s / d_run, SPEEDUP, verdict("%s training speed" % ds, ok))))
        print(fmt % ("  the peer's training run, s/1k", "", "%.3f" % p["seconds_per_1k_steps"], ""))
    else:
        print(fmt % ("s/1k steps, the training run", "%.3f" % d_run, "", ""))
    d_smp = last("%s/dgm_sample_time_%s.log" % (work, ds))["seconds"]
    r["dgm_sample_s"] = d_smp
    p_smp = p.get("sample_s") if p else None
    if p_smp is not None:
        r.update(peer_sample_s=p_smp, peer_sample_over_dgm=p_smp / d_smp)
    print(fmt % ("sampling %d rows, s" % samples, "%.3f" % d_smp,
                 "%.3f" % p_smp if p_smp is not None else "",
                 "peer / dgm = %.2f (dgm: wall clock, start-up included)" % (p_smp / d_smp)
                 if p_smp is not None else "(wall clock, start-up included)"))
    print("json: " + json.dumps(r))

missed = [n for n, ok in verdicts if not ok]
print("\ntargets: %d of %d met%s" % (len(verdicts) - len(missed), len(verdicts),
                                    "; not met: " + ", ".join(missed) if missed else ""))
EOF
echo
echo "NLL: dgm eval and the peer on the same 5,000 test rows; peer s/1k: the median timed"
echo "window on moons; sampling: $SAMPLES rows. logs: $WORK"
