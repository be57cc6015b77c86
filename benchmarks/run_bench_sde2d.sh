#!/usr/bin/env bash
# The 2-D score SDE benchmark end to end: dgm's `sde` (Song et al. 2021, the VP SDE) and a
# PyTorch script of the same model (benchmarks/peers/torch_sde2d.py) trained side by side
# on moons (sklearn's make_moons, noise 0.1, raw coordinates) and FFJORD's 8 gaussians, the
# data sets of run_bench_score2d.sh. The issue's targets, per data set: W2 <= the peer's +
# 0.01 with the PC and with the ODE sampler; NLL <= the peer's + 0.02 nats; on gauss8 8/8
# modes and >= 95 % high-quality samples (each sampler); dgm's training step at least 2x
# faster than the peer's; dgm's NLL of 10,000 points at least 5x faster.
#
# Steps:
#   data   numpy writes, per data set, the 20,000 training and 5,000 test rows of
#          run_bench_score2d.sh (the same seeds: moons 1/2, gauss8 3/4), the reference
#          set (the test set's first 2,000 rows), the W2 floor (the reference to the test
#          rows 2,000..3,999) and the NLL set: the 5,000 test rows, then 5,000 more drawn
#          with seed 5 (moons) / 6 (gauss8), 10,000 rows in all (--quick: its first
#          2,000), with the true density's NLL of it (the floor of any model's);
#   speed  the peer on moons: --time-only windows under torch threads {1, 2} x
#          OPENBLAS_NUM_THREADS {1, 2} (bench_lib.sh's peer_sweep), the fastest by the
#          median window taken (the peer trains under it below); dgm's speed is its
#          training run's own clock (metrics.jsonl: elapsed_s at the last logged step over
#          the step);
#   train  per data set: `dgm train sde --data train.npy --steps N --device cpu --seed SEED
#          --out DIR`; `dgm sample DIR/checkpoint.safetensors -n 2000 --seed SAMPLE_SEED`,
#          once with the default sampler (PC) and once with `--set sampler=ode`; `dgm eval
#          CKPT --data nll.npy --metric nll`, timed by the wall clock (the whole command:
#          start-up and loading included); the peer the same steps from the same seed,
#          2,000 samples of each sampler (--samples, --ode-samples), its state saved, and
#          its NLL of the same file (--eval-dgm on that state, --nll) under torch threads
#          NLL_THREADS (torch threads:OpenBLAS threads), the fastest taken (its own clock: the ODE solves alone); and, a
#          check that the two are one model (best effort: skipped when it fails), dgm's
#          checkpoint loaded into the peer (--eval-dgm): the peer's samplers and NLL on
#          dgm's EMA weights;
#   metrics the same tools for both sides: W2 of each sample set to the reference by
#          `dgm compare A.npy REF.npy --metric w2` (exact, 2,000 to 2,000), and on gauss8
#          mode coverage as dgm's dgm_mode_coverage_compute (torch_gan2d.py's
#          mode_coverage: the nearest of the 8 centres within 3 std is a hit; modes =
#          centres hit at least once, high quality = hits over samples);
#   report per data set: dgm and peer side by side against the targets, s/1k training
#          steps and NLL seconds per 10,000 points of each; JSON lines (prefix "json: ",
#          bench "sde2d_summary").
#
# Usage: benchmarks/run_bench_sde2d.sh [--quick] [--steps N] [--no-peer]
#   --quick      a smoke run: 1,000 training steps, short peer timings, 2,000 NLL rows
#   --steps N    training steps, dgm and the peer (default 60000)
#   --no-peer    dgm only
# Environment:
#   BUILD_DIR      build folder (default build); configured Release and dgm_cli built if
#                  needed (NO_BUILD=1: not built)
#   DGM            the dgm binary (default $BUILD_DIR/dgm; given: not built)
#   JOBS           parallel build jobs (default 1)
#   SEED           training seed of dgm and the peer (default 0)
#   SAMPLE_SEED    seed of dgm's 2,000 samples and of the peer's sampling of dgm's
#                  checkpoint (default 1; the peer's own samples use SEED + 1)
#   DGM_OB         OPENBLAS_NUM_THREADS of dgm's runs (default 1)
#   TIME_ARGS      the peer's timing arguments (default --time-only 2000 --windows 3;
#                  --quick: --time-only 300 --windows 2 --warmup 20)
#   THREAD_MARGIN  how much faster (a fraction) a peer setting with more threads must time
#                  to be taken (default 0: the fastest)
#   NLL_THREADS    the peer's NLL timing settings, torch threads:OPENBLAS_NUM_THREADS (default
#                  "1:1 1:2 2:2": torch 1 with 2 OpenBLAS threads was its fastest) of the peer's NLL
#                  timing, the fastest taken (default "1 2")
#   NLL_ROWS       rows of the NLL set, at most 10000 (default 10000; --quick 2000); its
#                  times are reported per 10,000 rows
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
NLL_THREADS=${NLL_THREADS:-1:1 1:2 2:2}
PYTHON=${PYTHON:-/usr/bin/python3}
PEERS=$ROOT/benchmarks/peers
PEER=$PEERS/torch_sde2d.py
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-sde2d.XXXXXX)}
mkdir -p "$WORK"

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"
quick=0 peer=1 steps=''  # bench_steps_args sets them from the arguments
bench_steps_args "$0" "$@"
if ((quick)); then
  steps=${steps:-1000} NLL_ROWS=${NLL_ROWS:-2000} PEER_TIMEOUT=${PEER_TIMEOUT:-120}
  TIME_ARGS=${TIME_ARGS:---time-only 300 --windows 2 --warmup 20}
else
  steps=${steps:-60000} NLL_ROWS=${NLL_ROWS:-10000} PEER_TIMEOUT=${PEER_TIMEOUT:-600}
  TIME_ARGS=${TIME_ARGS:---time-only 2000 --windows 3}
fi
if ! [[ $NLL_ROWS =~ ^[1-9][0-9]*$ ]] || ((NLL_ROWS > 10000)); then
  echo "run_bench_sde2d.sh: NLL_ROWS must be 1..10000" >&2; exit 2
fi
DATASETS="moons gauss8"

openblas_coretype_for_all

echo "== dgm bench sde2d ($(date -u +%F), $(uname -m), $(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
echo "work folder: $WORK; $steps training steps, seed $SEED, sample seed $SAMPLE_SEED," \
     "$NLL_ROWS NLL rows"
load_warning
"$PYTHON" -c "import numpy" 2>/dev/null ||
  { echo "run_bench_sde2d.sh: $PYTHON has no numpy (apt-get install python3-numpy)" >&2; exit 1; }

# ---- build ----
bench_dgm "$0"

# ---- data ----
echo
echo "== data (numpy): 20,000 training rows each; the reference: 2,000 test rows; NLL: $NLL_ROWS rows"
"$PYTHON" - "$WORK" "$PEERS" "$NLL_ROWS" <<'EOF' | tee "$WORK/data.log"
import json, sys
import numpy as np

work, rows = sys.argv[1], int(sys.argv[3])
sys.path.insert(0, sys.argv[2])
import toy2d_data as td  # noqa: E402

# name: (draw(n, seed), the seeds of the training, test and extra NLL rows, the true NLL)
SETS = {
    "moons": (lambda n, s: td.make_moons(n, 0.1, np.random.RandomState(s)), (1, 2, 5),
              lambda x: td.moons_nll(x, 0.1)),
    "gauss8": (lambda n, s: td.gauss8(n, np.random.RandomState(s)), (3, 4, 6),
               lambda x: td.mixture_nll(x, td.GAUSS8_CENTRES, td.GAUSS8_STD)),
}
for name, (draw, (s_train, s_test, s_more), true_nll) in SETS.items():
    test = draw(5000, s_test).astype(np.float32)
    nll_set = np.concatenate([test, draw(5000, s_more).astype(np.float32)])[:rows]
    files = dict(train=draw(20000, s_train), ref=test[:2000], floor=test[2000:4000], nll=nll_set)
    for what, a in files.items():
        np.save("%s/%s_%s.npy" % (work, name, what), a.astype(np.float32))
    nll = true_nll(nll_set.astype(np.float64))
    print("%-7s train %s, NLL set %s; the true density's NLL of it %.4f nats"
          % (name, files["train"].shape, nll_set.shape, nll))
    print("json: " + json.dumps(dict(bench="sde2d_data", dataset=name, train=20000,
                                     nll_rows=len(nll_set), true_nll=nll)))
EOF

# W2 of sample files to a data set's reference: w2_of DS NAME...: one JSON line per file
# $WORK/NAME.npy appended to $WORK/w2.log
w2_of() {
  local ds=$1 f r
  shift
  for f; do
    r=$("$DGM" compare "$WORK/$f.npy" "$WORK/${ds}_ref.npy" --metric w2)
    echo "json: {\"file\": \"$f\", \"dataset\": \"$ds\", \"metrics\": $r}" >>"$WORK/w2.log"
  done
}
: >"$WORK/w2.log"
for ds in $DATASETS; do w2_of "$ds" "${ds}_floor"; done

# ---- speed: the peer's sweep over torch threads x OpenBLAS threads ----
peer_s='' peer_t='' peer_ob=''
if ((peer)); then
  "$PYTHON" -c "import torch, scipy" ||
    { echo "the peer needs torch and scipy for $PYTHON (apt-get install python3-torch python3-scipy)"; exit 1; }
  echo
  echo "== PyTorch peer timing on moons ($TIME_ARGS per setting)"
  # shellcheck disable=SC2086
  peer_sweep peer_time seconds_per_1k_steps "s/1k steps" "$THREAD_MARGIN" \
    --data "$WORK/moons_train.npy" --seed "$SEED" $TIME_ARGS
  [[ -n $peer_s ]] || { echo "run_bench_sde2d.sh: every peer setting failed" >&2; exit 1; }
  echo "the peer trains with torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob"
fi

# ---- train, sample, evaluate ----
dgm_ob() { OPENBLAS_NUM_THREADS=$DGM_OB "$DGM" "$@"; }  # dgm under DGM_OB
for ds in $DATASETS; do
  dir=$WORK/dgm-$ds ck=$WORK/dgm-$ds/checkpoint.safetensors nll=$WORK/${ds}_nll.npy
  echo
  echo "== $ds: dgm train sde --steps $steps (OPENBLAS_NUM_THREADS=$DGM_OB)"
  dgm_ob train sde --data "$WORK/${ds}_train.npy" --steps "$steps" --device cpu --seed "$SEED" \
    --out "$dir" >"$WORK/dgm_train_$ds.log"
  tail -2 "$WORK/dgm_train_$ds.log"
  dgm_ob sample "$ck" -n 2000 --seed "$SAMPLE_SEED" --device cpu -o "$WORK/dgm_pc_$ds.npy"
  dgm_ob sample "$ck" -n 2000 --seed "$SAMPLE_SEED" --device cpu -o "$WORK/dgm_ode_$ds.npy" \
    --set sampler=ode
  w2_of "$ds" "dgm_pc_$ds" "dgm_ode_$ds"
  t0=$EPOCHREALTIME
  dgm_ob eval "$ck" --data "$nll" --device cpu --metric nll | tee "$WORK/dgm_eval_$ds.json"
  t1=$EPOCHREALTIME
  echo "json: {\"dataset\": \"$ds\", \"rows\": $NLL_ROWS, \"seconds\": $(calc "$t1 - $t0")}" \
    >"$WORK/dgm_nll_time_$ds.log"
  echo "dgm eval --metric nll: $(calc "round($t1 - $t0, 3)") s for $NLL_ROWS rows (wall clock)"
  if ((peer)); then
    # dgm's checkpoint in the peer (best effort)
    if OPENBLAS_NUM_THREADS=$peer_ob "$PYTHON" "$PEER" --eval-dgm "$ck" --seed "$SAMPLE_SEED" \
         --threads "$peer_t" --samples "$WORK/dgm_in_peer_pc_$ds.npy" \
         --ode-samples "$WORK/dgm_in_peer_ode_$ds.npy" --nll "$nll" \
         >"$WORK/peer_eval_dgm_$ds.log" 2>&1; then
      grep -v '^json: ' "$WORK/peer_eval_dgm_$ds.log"
      w2_of "$ds" "dgm_in_peer_pc_$ds" "dgm_in_peer_ode_$ds"
    else
      echo "dgm's checkpoint in the peer: failed, skipped ($(tail -1 "$WORK/peer_eval_dgm_$ds.log"))"
    fi
    echo "== $ds: the peer, $steps steps (torch threads $peer_t, OPENBLAS_NUM_THREADS=$peer_ob)"
    OPENBLAS_NUM_THREADS=$peer_ob "$PYTHON" "$PEER" --data "$WORK/${ds}_train.npy" \
      --steps "$steps" --seed "$SEED" --threads "$peer_t" -n 2000 \
      --samples "$WORK/peer_pc_$ds.npy" --ode-samples "$WORK/peer_ode_$ds.npy" \
      --save "$WORK/peer_$ds.pt" >"$WORK/peer_train_$ds.log"
    grep -v '^json: ' "$WORK/peer_train_$ds.log" | tail -3
    w2_of "$ds" "peer_pc_$ds" "peer_ode_$ds"
    for tb in $NLL_THREADS; do
      t=${tb%%:*} ob=${tb#*:}
      log=$WORK/peer_nll_${ds}_t${t}_ob$ob.log
      if OPENBLAS_NUM_THREADS=$ob timeout "$PEER_TIMEOUT" "$PYTHON" "$PEER" --eval-dgm \
           "$WORK/peer_$ds.pt" --nll "$nll" --threads "$t" >"$log" 2>&1; then
        echo "the peer's NLL, torch threads $t, OpenBLAS $ob: $(grep '^NLL of' "$log")"
      else
        echo "the peer's NLL, torch threads $t, OpenBLAS $ob: failed or over $PEER_TIMEOUT s, skipped"
      fi
    done
  fi
done

# ---- summary ----
echo
echo "== summary (cpu, $steps steps, seed $SEED$( ((quick)) && echo ', quick: NOT the issue'"'"'s full run'))"
echo "dgm: OPENBLAS_NUM_THREADS=$DGM_OB; its speed: the training run's own clock (metrics.jsonl)"
if ((peer)); then
  echo "peer: PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)');" \
       "torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob; its speed: the median" \
       "timed window of the fastest setting; its NLL time: the fastest of (torch:OpenBLAS threads) $NLL_THREADS"
fi
"$PYTHON" - "$WORK" "$steps" "$quick" "$peer" "${peer_s:-nan}" "$PEERS" "$NLL_THREADS" <<'EOF'
import json, math, os, sys
import numpy as np

work, steps, quick, peer = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
peer_s, nll_threads = float(sys.argv[5]), sys.argv[7].split()
W2_MARGIN, NLL_MARGIN, HQ_TARGET, SPEEDUP, NLL_SPEEDUP = 0.01, 0.02, 0.95, 2.0, 5.0
sys.path.insert(0, sys.argv[6])
try:
    import torch
    from torch_gan2d import mode_coverage
    from toy2d_data import GAUSS8_CENTRES, GAUSS8_STD
except ImportError as e:  # --no-peer without torch: no mode coverage
    print("no mode coverage: %s" % e)
    mode_coverage = None


def coverage(name):
    """dgm_mode_coverage_compute of $WORK/name.npy on gauss8's centres; None without torch or
    the file."""
    path = "%s/%s.npy" % (work, name)
    if mode_coverage is None or not os.path.exists(path):
        return None
    x = torch.from_numpy(np.load(path).astype(np.float64))
    return mode_coverage(x, torch.from_numpy(GAUSS8_CENTRES), GAUSS8_STD)


def jlines(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l[6:]) for l in open(path) if l.startswith("json: ")]


def last(path, **kw):
    hits = [d for d in jlines(path) if all(d.get(k) == v for k, v in kw.items())]
    return hits[-1] if hits else None


w2 = {d["file"]: d["metrics"]["w2"] for d in jlines(work + "/w2.log")}
data = {d["dataset"]: d for d in jlines(work + "/data.log")}
fmt = "  %-40s %14s %14s   %s"
verdicts = []


def verdict(name, ok):
    verdicts.append((name, ok))
    return "met" if ok else "NOT met"


def f4(v):
    return "" if v is None else "%.4f" % v


ref = coverage("gauss8_ref")
print("\nfloors: W2 of 2,000 test rows to the reference: moons %.4f, gauss8 %.4f; the true "
      "density's NLL of the NLL set: moons %.4f, gauss8 %.4f%s"
      % (w2["moons_floor"], w2["gauss8_floor"], data["moons"]["true_nll"],
         data["gauss8"]["true_nll"], "; the reference's own gauss8 coverage %d/8, %.1f %% "
         "high quality" % (ref["modes"], 100 * ref["high_quality"]) if ref else ""))

for ds in ("moons", "gauss8"):
    rows = data[ds]["nll_rows"]
    r = dict(bench="sde2d_summary", dataset=ds, steps=steps, quick=quick, nll_rows=rows,
             true_nll=data[ds]["true_nll"])
    p = last("%s/peer_train_%s.log" % (work, ds), what="result") if peer else None
    c = last("%s/peer_eval_dgm_%s.log" % (work, ds), what="dgm_checkpoint")
    print("\nsde on %s (%d steps)" % (ds, steps))
    print(fmt % ("", "dgm", "peer" if peer else "", ""))
    for s in ("pc", "ode"):
        dw = w2["dgm_%s_%s" % (s, ds)]
        pw = w2.get("peer_%s_%s" % (s, ds))
        r["dgm_w2_" + s] = dw
        note = ""
        if pw is not None:
            ok = dw <= pw + W2_MARGIN
            r.update({"peer_w2_" + s: pw, "w2_%s_diff" % s: dw - pw, "w2_%s_target_met" % s: ok})
            note = "dgm - peer = %+.4f (target <= %+.2f: %s)" % (
                dw - pw, W2_MARGIN, verdict("%s W2 %s" % (ds, s), ok))
        print(fmt % ("W2 to the reference, %s" % s, f4(dw), f4(pw), note))
        cw = w2.get("dgm_in_peer_%s_%s" % (s, ds))
        if cw is not None:
            r["dgm_ckpt_in_peer_w2_" + s] = cw
            print(fmt % ("  dgm's weights, the peer's %s sampler" % s, f4(cw), "", ""))
    # NLL: dgm eval's, the peer's (its fastest timing run), their times per 10,000 rows
    dn = json.load(open("%s/dgm_eval_%s.json" % (work, ds)))["nll"]
    d_sec = last("%s/dgm_nll_time_%s.log" % (work, ds))["seconds"] * 10000.0 / rows
    r.update(dgm_nll=dn, dgm_nll_s=d_sec)
    pl = [last("%s/peer_nll_%s_t%s_ob%s.log" % ((work, ds) + tuple(tb.split(":"))), what="dgm_checkpoint")
          for tb in nll_threads] if peer else []
    pl = [d for d in pl if d]
    pn = min(pl, key=lambda d: d["nll_s"]) if pl else None
    label = "NLL, nats (true %.4f)" % data[ds]["true_nll"]
    if pn:
        ok = dn <= pn["nll"] + NLL_MARGIN
        r.update(peer_nll=pn["nll"], nll_diff=dn - pn["nll"], nll_target_met=ok,
                 peer_nll_nfev=pn["nll_nfev"], peer_nll_threads=pn["threads"],
                 peer_nll_openblas_threads=pn.get("openblas_threads"))
        print(fmt % (label, f4(dn), f4(pn["nll"]), "dgm - peer = %+.4f (target <= %+.2f: %s)"
                     % (dn - pn["nll"], NLL_MARGIN, verdict("%s NLL" % ds, ok))))
    else:
        print(fmt % (label, f4(dn), "", ""))
    if c and "nll" in c:
        r["dgm_ckpt_in_peer_nll"] = c["nll"]
        print(fmt % ("  dgm's weights, the peer's NLL", f4(c["nll"]), "",
                     "(dgm eval %.4f)" % dn))
    # mode coverage (gauss8), per sampler
    if ds == "gauss8":
        for s in ("pc", "ode"):
            dm, pm = coverage("dgm_%s_%s" % (s, ds)), coverage("peer_%s_%s" % (s, ds))
            if not dm:
                continue
            ok = dm["modes"] == 8 and dm["high_quality"] >= HQ_TARGET
            r.update({"dgm_modes_" + s: dm["modes"], "dgm_high_quality_" + s: dm["high_quality"],
                      "modes_%s_target_met" % s: ok})
            if pm:
                r.update({"peer_modes_" + s: pm["modes"],
                          "peer_high_quality_" + s: pm["high_quality"]})
            cell = lambda m: "%d, %.1f %%" % (m["modes"], 100 * m["high_quality"]) if m else ""
            print(fmt % ("modes of 8, high quality, %s" % s, cell(dm), cell(pm),
                         "dgm: target 8/8 and >= %.0f %%: %s"
                         % (100 * HQ_TARGET, verdict("gauss8 modes %s" % s, ok))))
            cm = coverage("dgm_in_peer_%s_%s" % (s, ds))
            if cm:
                print(fmt % ("  dgm's weights, the peer's %s sampler" % s, cell(cm), "", ""))
    # speed: training (dgm's whole run; the peer's timed windows) and the NLL
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
        print(fmt % ("  the peer's training run, s/1k", "", "%.3f" % p["seconds_per_1k_steps"],
                     ""))
    else:
        print(fmt % ("s/1k steps, the training run", "%.3f" % d_run, "", ""))
    if pn:
        p_sec = pn["nll_s"] * 10000.0 / rows
        ok = p_sec >= NLL_SPEEDUP * d_sec
        r.update(peer_nll_s=p_sec, peer_nll_over_dgm=p_sec / d_sec, nll_speed_target_met=ok)
        print(fmt % ("NLL s per 10,000 rows", "%.2f" % d_sec, "%.2f" % p_sec,
                     "peer / dgm = %.2f (target >= %.1f: %s)"
                     % (p_sec / d_sec, NLL_SPEEDUP, verdict("%s NLL speed" % ds, ok))))
    else:
        print(fmt % ("NLL s per 10,000 rows", "%.2f" % d_sec, "", ""))
    print("json: " + json.dumps(r))

missed = [n for n, ok in verdicts if not ok]
print("\ntargets: %d of %d met%s" % (len(verdicts) - len(missed), len(verdicts),
                                    "; not met: " + ", ".join(missed) if missed else ""))
EOF
echo
echo "W2: dgm compare (exact, 2,000 samples to the test set's first 2,000 rows); modes: as"
echo "dgm_mode_coverage_compute; peer s/1k: the median timed window on moons; NLL: dgm's"
echo "wall clock of dgm eval, the peer's clock of its ODE solves. logs: $WORK"
