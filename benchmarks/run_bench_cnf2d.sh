#!/usr/bin/env bash
# The 2-D continuous normalizing flow benchmark end to end: dgm's `cnf` (FFJORD, Grathwohl
# et al. 2019) and a PyTorch script of the same model (benchmarks/peers/torch_cnf2d.py:
# rtqichen/ffjord train_toy.py's defaults, the solvers written out) trained side by side on
# moons (sklearn's make_moons, noise 0.1, raw coordinates), FFJORD's 8 gaussians and its
# checkerboard. The model, both sides: dynamics of ConcatSquashLinear layers 2-64-64-64-2,
# tanh between; T = sqrt_end_time², starting at 0.5, learned; the exact (brute-force)
# divergence; training through classic RK4 in fixed steps (discretize-then-optimize); Adam
# lr 1e-3, weight decay 1e-5, batch 100, 4,000 steps; the test NLL by an adaptive solver
# (RK45 / Dormand-Prince, rtol = atol = 1e-5), never the training discretization. The
# issue's targets, per data set: dgm's test NLL <= the peer's + 0.03 nats; dgm's training
# step at least 2x faster than the peer's.
#
# Steps:
#   data   numpy writes, per data set, 20,000 training and 5,000 test rows (float32 .npy;
#          seeds: moons 1/2, gauss8 3/4, checkerboard 5/6) and the true density's NLL of
#          the test rows (moons_nll, mixture_nll on the 8 centres, checkerboard_nll = log
#          32), the floor of any model's;
#   speed  the peer on moons: --time-only windows under torch threads {1, 2} x
#          OPENBLAS_NUM_THREADS {1, 2} (bench_lib.sh's peer_sweep), the fastest by the
#          median window taken (the peer trains under it below); a data set whose peer runs
#          with other RK4 steps (checkerboard: 16) is timed again under that setting with
#          its own steps. dgm's speed is its training run's own clock (metrics.jsonl:
#          elapsed_s at the last logged step over the step);
#   train  per data set: `dgm train cnf --data train.npy --steps N --device cpu --seed SEED
#          --out DIR` (dgm's defaults: the issue's model and training; DGM_ARGS_<dataset>
#          adds options, e.g. checkerboard's RK4 steps once dgm names that option); `dgm
#          eval CKPT --data test.npy --metric nll`; `dgm sample CKPT -n 2000`, timed by the
#          wall clock; the peer the same steps from the same seed (--solver-steps: 16 on
#          checkerboard, 8 on the others), its adaptive test NLL (with its NFE and, for
#          comparison, the RK4 NLL at the training's N steps and at 2N) and 2,000 samples,
#          timed; and, a check that the two are one model (best effort: skipped when it
#          fails), dgm's checkpoint loaded into the peer (--eval-dgm): its test NLL by the
#          peer's adaptive solver must agree with dgm eval's to ~1e-3;
#   report per data set: the floor, dgm's and the peer's test NLL, dgm − peer against the
#          target +0.03, s/1k training steps of both and peer/dgm against the target 2;
#          JSON lines (prefix "json: ", bench "cnf2d_summary").
#
# Usage: benchmarks/run_bench_cnf2d.sh [--quick] [--steps N] [--no-peer]
#   --quick      a smoke run: 300 training steps, short peer timings
#   --steps N    training steps, dgm and the peer (default 4000)
#   --no-peer    dgm only
# Environment:
#   BUILD_DIR      build folder (default build); configured Release and dgm_cli built if
#                  needed (NO_BUILD=1: not built)
#   DGM            the dgm binary (default $BUILD_DIR/dgm; given: not built)
#   JOBS           parallel build jobs (default 1)
#   SEED           training seed of dgm and the peer (default 0)
#   SAMPLE_SEED    seed of dgm's 2,000 samples (default 1; the peer's use SEED + 1)
#   DGM_OB         OPENBLAS_NUM_THREADS of dgm's runs (default 1)
#   DATASETS       the data sets (default "moons gauss8 checkerboard")
#   SOLVER_STEPS_<dataset>  the peer's RK4 steps in training (default 8; checkerboard 16)
#   DGM_ARGS_<dataset>      more options of that data set's `dgm train cnf` (default none)
#   TIME_ARGS      the peer's timing arguments (default --time-only 200 --windows 3;
#                  --quick: --time-only 50 --windows 2 --warmup 10)
#   THREAD_MARGIN  how much faster (a fraction) a peer setting with more threads must time
#                  to be taken (default 0: the fastest)
#   PEER_TIMEOUT   seconds one peer timing setting may take before it is skipped (default
#                  600; 120 with --quick)
#   PYTHON         python with torch, numpy and scipy (default /usr/bin/python3, Debian's)
#   WORK           folder for data, logs and checkpoints (default: a fresh one under /tmp)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-1}
SEED=${SEED:-0}
SAMPLE_SEED=${SAMPLE_SEED:-1}
DGM_OB=${DGM_OB:-1}
THREAD_MARGIN=${THREAD_MARGIN:-0}
DATASETS=${DATASETS:-moons gauss8 checkerboard}
SOLVER_STEPS_moons=${SOLVER_STEPS_moons:-8}
SOLVER_STEPS_gauss8=${SOLVER_STEPS_gauss8:-8}
SOLVER_STEPS_checkerboard=${SOLVER_STEPS_checkerboard:-16}
DEFAULT_SOLVER_STEPS=8  # the peer's default: the speed sweep's
PYTHON=${PYTHON:-/usr/bin/python3}
PEERS=$ROOT/benchmarks/peers
PEER=$PEERS/torch_cnf2d.py
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-cnf2d.XXXXXX)}
mkdir -p "$WORK"

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"
quick=0 peer=1 steps=''  # bench_steps_args sets them from the arguments
bench_steps_args "$0" "$@"
if ((quick)); then
  steps=${steps:-300} PEER_TIMEOUT=${PEER_TIMEOUT:-120}
  TIME_ARGS=${TIME_ARGS:---time-only 50 --windows 2 --warmup 10}
else
  steps=${steps:-4000} PEER_TIMEOUT=${PEER_TIMEOUT:-600}
  TIME_ARGS=${TIME_ARGS:---time-only 200 --windows 3}
fi
for ds in $DATASETS; do
  case $ds in
    moons|gauss8|checkerboard) ;;
    *) echo "run_bench_cnf2d.sh: unknown data set $ds (moons, gauss8, checkerboard)" >&2; exit 2 ;;
  esac
done
# solver_steps DS: the peer's RK4 steps on DS; dgm_args DS: DGM_ARGS_<DS>
solver_steps() { local v="SOLVER_STEPS_$1"; echo "${!v:-$DEFAULT_SOLVER_STEPS}"; }
dgm_args() { local v="DGM_ARGS_$1"; echo "${!v:-}"; }

openblas_coretype_for_all

echo "== dgm bench cnf2d ($(date -u +%F), $(uname -m), $(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
echo "work folder: $WORK; $steps training steps, seed $SEED, sample seed $SAMPLE_SEED; data: $DATASETS"
load_warning
"$PYTHON" -c "import numpy" 2>/dev/null ||
  { echo "run_bench_cnf2d.sh: $PYTHON has no numpy (apt-get install python3-numpy)" >&2; exit 1; }

# ---- build ----
bench_dgm "$0"

# ---- data ----
echo
echo "== data (numpy): 20,000 training and 5,000 test rows each, the true density's test NLL"
# shellcheck disable=SC2086
"$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[2]); import toy2d_data as td
td.write_flow_toys(sys.argv[1], "cnf2d", sys.argv[3:])' "$WORK" "$PEERS" $DATASETS | tee "$WORK/data.log"

# ---- speed: the peer's sweep over torch threads x OpenBLAS threads ----
peer_s='' peer_t='' peer_ob='' peer_adam=''
if ((peer)); then
  "$PYTHON" -c "import torch, scipy" ||
    { echo "the peer needs torch and scipy for $PYTHON (apt-get install python3-torch python3-scipy)"; exit 1; }
  echo
  echo "== PyTorch peer timing on moons ($TIME_ARGS per setting, RK4 $DEFAULT_SOLVER_STEPS steps)"
  # shellcheck disable=SC2086
  peer_sweep peer_time seconds_per_1k_steps "s/1k steps" "$THREAD_MARGIN" \
    --data "$WORK/moons_train.npy" --seed "$SEED" --solver-steps "$DEFAULT_SOLVER_STEPS" $TIME_ARGS
  [[ -n $peer_s ]] || { echo "run_bench_cnf2d.sh: every peer setting failed" >&2; exit 1; }
  echo "the peer trains with torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob"
  # the peer's timed s/1k steps per data set: the sweep's at the default RK4 steps, else
  # timed again (the chosen threads, the data set's own steps)
  : >"$WORK/peer_speed.log"
  for ds in $DATASETS; do
    n=$(solver_steps "$ds")
    if ((n == DEFAULT_SOLVER_STEPS)); then
      echo "json: {\"dataset\": \"$ds\", \"solver_steps\": $n, \"seconds_per_1k_steps\": $peer_s}" \
        >>"$WORK/peer_speed.log"
      continue
    fi
    log=$WORK/peer_time_${ds}_rk$n.log s=''
    # shellcheck disable=SC2086
    if OPENBLAS_NUM_THREADS=$peer_ob timeout "$PEER_TIMEOUT" "$PYTHON" "$PEER" \
         --data "$WORK/${ds}_train.npy" --seed "$SEED" --solver-steps "$n" $TIME_ARGS \
         --threads "$peer_t" >"$log" 2>&1; then
      s=$(jget "$log" what=median_window seconds_per_1k_steps)
    fi
    if [[ -n ${s:-} ]]; then
      echo "the peer on $ds, RK4 $n steps: $s s/1k steps (median window)"
      echo "json: {\"dataset\": \"$ds\", \"solver_steps\": $n, \"seconds_per_1k_steps\": $s}" \
        >>"$WORK/peer_speed.log"
    else
      echo "the peer's timing on $ds (RK4 $n steps): failed or over $PEER_TIMEOUT s; its" \
           "training run's median window stands in"
    fi
  done
fi

# ---- train, sample, evaluate ----
dgm_ob() { OPENBLAS_NUM_THREADS=$DGM_OB "$DGM" "$@"; }  # dgm under DGM_OB
for ds in $DATASETS; do
  dir=$WORK/dgm-$ds ck=$WORK/dgm-$ds/checkpoint.safetensors test=$WORK/${ds}_test.npy
  n=$(solver_steps "$ds") extra=$(dgm_args "$ds")
  echo
  echo "== $ds: dgm train cnf --steps $steps${extra:+ $extra} (OPENBLAS_NUM_THREADS=$DGM_OB)"
  # shellcheck disable=SC2086
  dgm_ob train cnf --data "$WORK/${ds}_train.npy" --steps "$steps" --device cpu --seed "$SEED" \
    --out "$dir" $extra >"$WORK/dgm_train_$ds.log"
  tail -2 "$WORK/dgm_train_$ds.log"
  dgm_ob eval "$ck" --data "$test" --device cpu --metric nll | tee "$WORK/dgm_eval_$ds.json"
  t0=$EPOCHREALTIME
  dgm_ob sample "$ck" -n 2000 --seed "$SAMPLE_SEED" --device cpu -o "$WORK/dgm_samples_$ds.npy" \
    >"$WORK/dgm_sample_$ds.log"
  t1=$EPOCHREALTIME
  echo "json: {\"dataset\": \"$ds\", \"n\": 2000, \"seconds\": $(calc "$t1 - $t0")}" \
    >"$WORK/dgm_sample_time_$ds.log"
  echo "dgm sample -n 2000: $(calc "round($t1 - $t0, 3)") s (wall clock)"
  if ((peer)); then
    # dgm's checkpoint in the peer (best effort)
    if OPENBLAS_NUM_THREADS=$peer_ob "$PYTHON" "$PEER" --eval-dgm "$ck" --test "$test" \
         --solver-steps "$n" --threads "$peer_t" >"$WORK/peer_eval_dgm_$ds.log" 2>&1; then
      grep -v '^json: ' "$WORK/peer_eval_dgm_$ds.log"
    else
      echo "dgm's checkpoint in the peer: failed, skipped ($(tail -1 "$WORK/peer_eval_dgm_$ds.log"))"
    fi
    echo "== $ds: the peer, $steps steps, RK4 $n steps (torch threads $peer_t, OPENBLAS_NUM_THREADS=$peer_ob)"
    OPENBLAS_NUM_THREADS=$peer_ob "$PYTHON" "$PEER" --data "$WORK/${ds}_train.npy" \
      --test "$test" --steps "$steps" --solver-steps "$n" --seed "$SEED" --threads "$peer_t" \
      --samples 2000 --samples-out "$WORK/peer_samples_$ds.npy" >"$WORK/peer_train_$ds.log"
    grep -v '^json: ' "$WORK/peer_train_$ds.log" | tail -3
  fi
done

# ---- summary ----
echo
echo "== summary (cpu, $steps steps, seed $SEED$( ((quick)) && echo ', quick: NOT the issue'"'"'s full run'))"
echo "dgm: OPENBLAS_NUM_THREADS=$DGM_OB; its speed: the training run's own clock (metrics.jsonl)"
if ((peer)); then
  echo "peer: PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)'), Adam $peer_adam;" \
       "torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob; its speed: the median" \
       "timed window of the fastest setting"
fi
# shellcheck disable=SC2086
"$PYTHON" - "$WORK" "$steps" "$quick" "$peer" $DATASETS <<'EOF'
import json, math, os, sys

work, steps, quick, peer = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
names = sys.argv[5:]
NLL_MARGIN, SPEEDUP, SAME = 0.03, 2.0, 1e-3


def jlines(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l[6:]) for l in open(path) if l.startswith("json: ")]


def last(path, **kw):
    hits = [d for d in jlines(path) if all(d.get(k) == v for k, v in kw.items())]
    return hits[-1] if hits else None


data = {d["dataset"]: d for d in jlines(work + "/data.log")}
speed = {d["dataset"]: d for d in jlines(work + "/peer_speed.log")}
fmt = "  %-40s %12s %12s   %s"
verdicts = []


def verdict(name, ok):
    verdicts.append((name, ok))
    return "met" if ok else "NOT met"


def f4(v):
    return "" if v is None else "%.4f" % v


for ds in names:
    r = dict(bench="cnf2d_summary", dataset=ds, steps=steps, quick=quick,
             true_nll=data[ds]["true_nll"])
    p = last("%s/peer_train_%s.log" % (work, ds), what="result") if peer else None
    pw = last("%s/peer_train_%s.log" % (work, ds), what="median_window") if peer else None
    c = last("%s/peer_eval_dgm_%s.log" % (work, ds), what="dgm_checkpoint") if peer else None
    ev = json.load(open("%s/dgm_eval_%s.json" % (work, ds)))
    dn = ev["nll"]
    r["dgm_nll"] = dn
    if ev.get("nfe") is not None:
        r["dgm_nfe"] = ev["nfe"]
    print("\ncnf on %s (%d steps%s)" % (ds, steps, ", the peer's RK4 %d steps" % p["solver_steps"]
                                        if p else ""))
    print(fmt % ("", "dgm", "peer" if peer else "", ""))
    print(fmt % ("true density's test NLL (the floor)", f4(data[ds]["true_nll"]), "", ""))
    label = "test NLL, nats (adaptive solver)"
    if p:
        ok = dn <= p["test_nll"] + NLL_MARGIN
        r.update(peer_nll=p["test_nll"], peer_nfe=p["nfe"], nll_diff=dn - p["test_nll"],
                 nll_target_met=ok, peer_solver_steps=p["solver_steps"], peer_T=p["T"],
                 peer_rk4_nll_N=p["rk4_nll_N"], peer_rk4_nll_2N=p["rk4_nll_2N"],
                 peer_nll_s=p["nll_s"])
        print(fmt % (label, f4(dn), f4(p["test_nll"]), "dgm - peer = %+.4f (target <= %+.2f: %s)"
                     % (dn - p["test_nll"], NLL_MARGIN, verdict("%s NLL" % ds, ok))))
        print(fmt % ("  function evaluations", r.get("dgm_nfe", ""), p["nfe"], ""))
        gap = p["rk4_nll_N"] - p["test_nll"]
        print(fmt % ("  the peer's RK4 NLL at N = %d, 2N" % p["rk4_steps"], "",
                     "%.4f, %.4f" % (p["rk4_nll_N"], p["rk4_nll_2N"]),
                     "RK4(N) - adaptive = %+.4f%s" % (gap, (
                         ": RK4(N) below the floor, the training solver's own fit"
                         if p["rk4_nll_N"] < data[ds]["true_nll"] <= p["test_nll"] else ""))))
        print(fmt % ("  the peer's T", "", "%.4f" % p["T"], ""))
    else:
        print(fmt % (label, f4(dn), "", ""))
    if c and "test_nll" in c:
        same = abs(c["test_nll"] - dn) <= SAME
        r.update(dgm_ckpt_in_peer_nll=c["test_nll"], dgm_ckpt_T=c["T"], same_model=same)
        print(fmt % ("  dgm's checkpoint, the peer's NLL", f4(c["test_nll"]), "",
                     "dgm eval %.4f: %s (T %.4f)" % (dn, "agree to %g" % SAME if same else
                                                     "MISMATCH beyond %g" % SAME, c["T"])))
    # speed: dgm's whole training run; the peer's timed windows (fastest setting)
    logged = [json.loads(l) for l in open("%s/dgm-%s/metrics.jsonl" % (work, ds)) if l.strip()]
    logged = [d for d in logged if "elapsed_s" in d and d.get("step")][-1]
    d_run = logged["elapsed_s"] * 1000.0 / logged["step"]
    r["dgm_run_s"] = d_run
    if p:
        ps = (speed.get(ds, {}).get("seconds_per_1k_steps")
              or (pw or {}).get("seconds_per_1k_steps") or p["seconds_per_1k_steps"])
        ok = ps >= SPEEDUP * d_run
        r.update(peer_s=ps, peer_run_s=p.get("seconds_per_1k_steps"), peer_over_dgm=ps / d_run,
                 speed_target_met=ok)
        print(fmt % ("s/1k steps (dgm: run; peer: timed)", "%.3f" % d_run, "%.3f" % ps,
                     "peer / dgm = %.2f (target >= %.1f: %s)"
                     % (ps / d_run, SPEEDUP, verdict("%s training speed" % ds, ok))))
        print(fmt % ("  the peer's training run, s/1k", "", "%.3f" % p["seconds_per_1k_steps"],
                     ""))
    else:
        print(fmt % ("s/1k steps, the training run", "%.3f" % d_run, "", ""))
    ds_t = last("%s/dgm_sample_time_%s.log" % (work, ds))
    r["dgm_sample_s"] = ds_t["seconds"]
    ps_t = p.get("sample_s") if p else None
    if ps_t is not None:
        r["peer_sample_s"] = ps_t
    print(fmt % ("2,000 samples, s (dgm: wall clock)", "%.2f" % ds_t["seconds"],
                 "" if ps_t is None else "%.2f" % ps_t, ""))
    print("json: " + json.dumps(r))

missed = [n for n, ok in verdicts if not ok]
print("\ntargets: %d of %d met%s" % (len(verdicts) - len(missed), len(verdicts),
                                    "; not met: " + ", ".join(missed) if missed else ""))
EOF
echo
echo "NLL: the test set's 5,000 rows by an adaptive solver (dgm eval; the peer: scipy RK45,"
echo "rtol = atol = 1e-5); peer s/1k: the median timed window of its fastest setting at the"
echo "data set's RK4 steps; dgm s/1k: its training run's clock. logs: $WORK"
