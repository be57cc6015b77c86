#!/usr/bin/env bash
# The 2-D energy-based and score-based benchmark end to end: dgm's `ebm` and `ncsn` and
# PyTorch scripts of the same models (benchmarks/peers/torch_ebm2d.py, torch_ncsn2d.py)
# trained side by side on moons (sklearn's make_moons, noise 0.1, raw coordinates) and
# FFJORD's 8 gaussians, the data sets of run_bench_flow2d.sh. The issue's targets: EBM test
# NLL <= the peer's + 0.03 nats; EBM on gauss8 8/8 modes and >= 92 % high-quality samples;
# NCSN moons W2 <= the peer's + 0.01, NCSN gauss8 8/8 modes and >= 93 % high quality; dgm's
# training step at least 2x faster than the peer's.
#
# Steps:
#   data   numpy writes, per data set, 20,000 training and 5,000 test rows (float32 .npy,
#          seeds as run_bench_flow2d.sh: moons 1/2, gauss8 3/4), the reference set (the
#          test set's first 2,000 rows), the true density's test NLL (the floor of any
#          model's) and the W2 floor (the reference to the test rows 2,000..3,999);
#   speed  the peer per family on moons: --time-only windows under torch threads 1 and 2
#          (OPENBLAS_NUM_THREADS the same), the median window of each, the faster taken
#          (the peer trains under it below); dgm's speed is its training run's own clock
#          (metrics.jsonl: elapsed_s at the last logged step over the step);
#   train  per family and data set: `dgm train ebm|ncsn --data train.npy --steps N
#          --device cpu --seed SEED --out DIR`, `dgm sample DIR/checkpoint.safetensors
#          -n 2000 --seed SAMPLE_SEED`, for ebm `dgm eval CKPT --data test.npy --metric nll`;
#          the peer the same steps from the same seed, 2,000 samples, for ebm its grid
#          test NLL; and, a check that the two are one model (best effort: skipped when
#          it fails), dgm's checkpoint loaded into the peer (--eval-dgm): the peer's grid
#          NLL of dgm's energy (ebm) and the peer's sampler on dgm's EMA weights (ncsn);
#   metrics the same tools for both sides: W2 of each sample set to the reference by
#          `dgm compare A.npy REF.npy --metric w2` (exact, 2,000 to 2,000), and on gauss8
#          mode coverage computed here as dgm's dgm_mode_coverage_compute
#          (host/metrics/mode_coverage.c): the nearest of the 8 centres within 3 std
#          (std 0.5/1.414) is a hit; modes = centres hit at least once, high quality = hits
#          over samples;
#   report per family and data set: dgm and peer side by side against the targets, and
#          s/1k steps of each; JSON lines (prefix "json: ", bench "score2d_summary").
#
# Usage: benchmarks/run_bench_score2d.sh [--quick] [--ebm-steps N] [--ncsn-steps N]
#                                        [--no-peer]
#   --quick         a smoke run: 1,000 training steps each, short peer timings
#   --ebm-steps N   the EBM's training steps, dgm and the peer (default 18000)
#   --ncsn-steps N  NCSN's (default 60000)
#   --no-peer       dgm only
# Environment:
#   BUILD_DIR      build folder (default build); configured Release and dgm_cli built if
#                  needed (NO_BUILD=1: not built)
#   DGM            the dgm binary (default $BUILD_DIR/dgm; given: not built)
#   JOBS           parallel build jobs (default 1)
#   SEED           training seed of dgm and the peer (default 0)
#   SAMPLE_SEED    seed of the 2,000 samples (default 1)
#   DGM_OB         OPENBLAS_NUM_THREADS of dgm's runs (default 1)
#   PEER_THREADS   torch thread counts the peer's timing tries (default "1 2")
#   EBM_TIME_ARGS  the EBM peer's timing arguments (default --time-only 500 --windows 3;
#                  --quick: --time-only 100 --windows 2 --warmup 20)
#   NCSN_TIME_ARGS NCSN's (default --time-only 2000 --windows 3; --quick: --time-only 300
#                  --windows 2 --warmup 20)
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
DGM_OB=${DGM_OB:-1}
PEER_THREADS=${PEER_THREADS:-1 2}
PYTHON=${PYTHON:-/usr/bin/python3}
PEERS=$ROOT/benchmarks/peers
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-score2d.XXXXXX)}
mkdir -p "$WORK"

quick=0 peer=1 ebm_steps='' ncsn_steps=''
num_arg() {
  [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] ||
    { echo "run_bench_score2d.sh: $1 needs a positive number" >&2; exit 2; }
}
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --no-peer) peer=0 ;;
    --ebm-steps) num_arg "$@"; ebm_steps=$2; shift ;;
    --ncsn-steps) num_arg "$@"; ncsn_steps=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0"; exit 0 ;;
    *) echo "run_bench_score2d.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  ebm_steps=${ebm_steps:-1000} ncsn_steps=${ncsn_steps:-1000}
  EBM_TIME_ARGS=${EBM_TIME_ARGS:---time-only 100 --windows 2 --warmup 20}
  NCSN_TIME_ARGS=${NCSN_TIME_ARGS:---time-only 300 --windows 2 --warmup 20}
  PEER_TIMEOUT=${PEER_TIMEOUT:-120}
else
  ebm_steps=${ebm_steps:-18000} ncsn_steps=${ncsn_steps:-60000}
  EBM_TIME_ARGS=${EBM_TIME_ARGS:---time-only 500 --windows 3}
  NCSN_TIME_ARGS=${NCSN_TIME_ARGS:---time-only 2000 --windows 3}
  PEER_TIMEOUT=${PEER_TIMEOUT:-600}
fi
FAMILIES="ebm ncsn"
DATASETS="moons gauss8"

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"
openblas_coretype_for_all

steps_of() { if [[ $1 = ebm ]]; then echo "$ebm_steps"; else echo "$ncsn_steps"; fi; }
time_args_of() { if [[ $1 = ebm ]]; then echo "$EBM_TIME_ARGS"; else echo "$NCSN_TIME_ARGS"; fi; }

echo "== dgm bench score2d ($(date -u +%F), $(uname -m), $(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
echo "work folder: $WORK; ebm $ebm_steps, ncsn $ncsn_steps training steps, seed $SEED," \
     "sample seed $SAMPLE_SEED"
load_warning
"$PYTHON" -c "import numpy" 2>/dev/null ||
  { echo "run_bench_score2d.sh: $PYTHON has no numpy (apt-get install python3-numpy)" >&2; exit 1; }

# ---- build ----
bench_dgm "$0"

# ---- data ----
echo
echo "== data (numpy): 20,000 training + 5,000 test rows each; the reference: 2,000 test rows"
"$PYTHON" - "$WORK" "$PEERS" <<'EOF' | tee "$WORK/data.log"
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
    test = test.astype(np.float32)
    np.save("%s/%s_train.npy" % (work, name), train.astype(np.float32))
    np.save("%s/%s_test.npy" % (work, name), test)
    np.save("%s/%s_ref.npy" % (work, name), test[:2000])
    np.save("%s/%s_floor.npy" % (work, name), test[2000:4000])
    nll = true_nll(test.astype(np.float64))
    print("%-7s train %s, test %s; the true density's test NLL %.4f nats"
          % (name, train.shape, test.shape, nll))
    print("json: " + json.dumps(dict(bench="score2d_data", dataset=name, train=len(train),
                                     test=len(test), true_nll=nll)))
EOF

# W2 of a sample file to a data set's reference: one JSON line appended to $WORK/w2.log
w2_of() {
  local f=$1 ds=$2 r
  r=$("$DGM" compare "$f" "$WORK/${ds}_ref.npy" --metric w2)
  echo "json: {\"file\": \"$(basename "$f" .npy)\", \"dataset\": \"$ds\", \"metrics\": $r}" >>"$WORK/w2.log"
}
: >"$WORK/w2.log"
for ds in $DATASETS; do w2_of "$WORK/${ds}_floor.npy" "$ds"; done

# ---- speed: the peer's timing per family, torch threads 1 and 2 ----
declare -A P_S P_T
if ((peer)); then
  "$PYTHON" -c "import torch" ||
    { echo "the peers need torch for $PYTHON (apt-get install python3-torch)"; exit 1; }
  for fam in $FAMILIES; do
    echo
    echo "== PyTorch peer timing, $fam on moons ($(time_args_of "$fam") per setting)"
    printf '%-14s %s\n' "torch threads" "s/1k steps (median window)"
    best='' best_t=''
    for t in $PEER_THREADS; do
      log=$WORK/peer_time_${fam}_t$t.log
      # shellcheck disable=SC2046
      if ! OPENBLAS_NUM_THREADS=$t timeout "$PEER_TIMEOUT" "$PYTHON" "$PEERS/torch_${fam}2d.py" \
           --data "$WORK/moons_train.npy" --seed "$SEED" --threads "$t" \
           $(time_args_of "$fam") >"$log" 2>&1; then
        printf '%-14s %s\n' "$t" "failed or over $PEER_TIMEOUT s: skipped"
        continue
      fi
      s=$(jget "$log" what=median_window seconds_per_1k_steps)
      [[ -n $s ]] || { printf '%-14s %s\n' "$t" "no median_window line: skipped"; continue; }
      printf '%-14s %.3f   (last/first window %.2f)\n' "$t" "$s" \
        "$(jget "$log" what=median_window drift_ratio)"
      if [[ -z $best ]] || (( $(calc "int($s < $best)") )); then best=$s best_t=$t; fi
    done
    [[ -n $best ]] || { echo "run_bench_score2d.sh: every $fam peer setting failed" >&2; exit 1; }
    P_S[$fam]=$best P_T[$fam]=$best_t
    echo "the $fam peer trains with torch.set_num_threads($best_t), OPENBLAS_NUM_THREADS=$best_t"
  done
fi

# ---- train, sample, evaluate ----
for fam in $FAMILIES; do
  n=$(steps_of "$fam")
  for ds in $DATASETS; do
    ck=$WORK/dgm-$fam-$ds/checkpoint.safetensors
    echo
    echo "== $fam on $ds: dgm train $fam --steps $n (OPENBLAS_NUM_THREADS=$DGM_OB)"
    OPENBLAS_NUM_THREADS=$DGM_OB "$DGM" train "$fam" --data "$WORK/${ds}_train.npy" \
      --steps "$n" --device cpu --seed "$SEED" --out "$WORK/dgm-$fam-$ds" \
      >"$WORK/dgm_train_${fam}_$ds.log"
    tail -2 "$WORK/dgm_train_${fam}_$ds.log"
    OPENBLAS_NUM_THREADS=$DGM_OB "$DGM" sample "$ck" -n 2000 --seed "$SAMPLE_SEED" \
      --device cpu -o "$WORK/dgm_${fam}_$ds.npy"
    w2_of "$WORK/dgm_${fam}_$ds.npy" "$ds"
    if [[ $fam = ebm ]]; then
      OPENBLAS_NUM_THREADS=$DGM_OB "$DGM" eval "$ck" --data "$WORK/${ds}_test.npy" \
        --device cpu --metric nll | tee "$WORK/dgm_eval_${fam}_$ds.json"
    fi
    if ((peer)); then
      t=${P_T[$fam]}
      # dgm's checkpoint in the peer (best effort)
      extra=(--samples "$WORK/dgm_in_peer_${fam}_$ds.npy")
      [[ $fam = ebm ]] && extra+=(--test "$WORK/${ds}_test.npy")
      if OPENBLAS_NUM_THREADS=$t "$PYTHON" "$PEERS/torch_${fam}2d.py" --eval-dgm "$ck" \
           --data "$WORK/${ds}_train.npy" --seed "$SAMPLE_SEED" --threads "$t" "${extra[@]}" \
           >"$WORK/peer_eval_dgm_${fam}_$ds.log" 2>&1; then
        grep -v '^json: ' "$WORK/peer_eval_dgm_${fam}_$ds.log"
        w2_of "$WORK/dgm_in_peer_${fam}_$ds.npy" "$ds"
      else
        echo "dgm's checkpoint in the peer: failed, skipped ($(tail -1 "$WORK/peer_eval_dgm_${fam}_$ds.log"))"
      fi
      echo "== $fam on $ds: the peer, $n steps (torch threads $t, OPENBLAS_NUM_THREADS=$t)"
      extra=(--samples "$WORK/peer_${fam}_$ds.npy")
      [[ $fam = ebm ]] && extra+=(--test "$WORK/${ds}_test.npy")
      OPENBLAS_NUM_THREADS=$t "$PYTHON" "$PEERS/torch_${fam}2d.py" --data "$WORK/${ds}_train.npy" \
        --steps "$n" --seed "$SEED" --threads "$t" -n 2000 "${extra[@]}" \
        >"$WORK/peer_train_${fam}_$ds.log"
      grep -v '^json: ' "$WORK/peer_train_${fam}_$ds.log" | tail -4
      w2_of "$WORK/peer_${fam}_$ds.npy" "$ds"
    fi
  done
done

# ---- summary ----
echo
echo "== summary (cpu, ebm $ebm_steps / ncsn $ncsn_steps steps, seed $SEED$( ((quick)) && echo ', quick: NOT the issue'"'"'s full run'))"
echo "dgm: OPENBLAS_NUM_THREADS=$DGM_OB; its speed: the training run's own clock (metrics.jsonl)"
if ((peer)); then
  echo "peer: PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)'); ebm" \
       "torch.set_num_threads(${P_T[ebm]}), ncsn torch.set_num_threads(${P_T[ncsn]});" \
       "its speed: the median timed window of the faster thread setting"
fi
"$PYTHON" - "$WORK" "$ebm_steps" "$ncsn_steps" "$quick" "$peer" "${P_S[ebm]:-nan}" \
  "${P_S[ncsn]:-nan}" "$PEERS" <<'EOF'
import json, math, os, sys
import numpy as np

work = sys.argv[1]
steps = {"ebm": int(sys.argv[2]), "ncsn": int(sys.argv[3])}
quick, peer = sys.argv[4] == "1", sys.argv[5] == "1"
peer_s = {"ebm": float(sys.argv[6]), "ncsn": float(sys.argv[7])}
NLL_MARGIN, W2_MARGIN, SPEEDUP = 0.03, 0.01, 2.0
HQ_TARGET = {"ebm": 0.92, "ncsn": 0.93}

sys.path.insert(0, sys.argv[8])
from toy2d_data import GAUSS8_CENTRES as CENTRES, GAUSS8_STD as STD  # noqa: E402


def mode_coverage(path):
    """dgm_mode_coverage_compute (host/metrics/mode_coverage.c) on gauss8's centres: the
    nearest centre (float64 distances of the float32 samples) within 3 std is a hit."""
    x = np.load(path).astype(np.float32).astype(np.float64)
    d2 = ((x[:, None, :] - CENTRES[None, :, :]) ** 2).sum(-1)
    best = d2.argmin(axis=1)
    good = d2[np.arange(len(x)), best] <= 9.0 * STD * STD
    hits = np.bincount(best[good], minlength=len(CENTRES))
    n_good = int(good.sum())
    rkl = float("nan")
    if n_good:
        h = hits[hits > 0] / n_good
        rkl = float((h * np.log(h * len(CENTRES))).sum())
    return dict(modes=int((hits > 0).sum()), high_quality=n_good / len(x), reverse_kl=rkl)


def jlines(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l[6:]) for l in open(path) if l.startswith("json: ")]


def dgm_run_s(fam, ds):
    """dgm train's whole-run time per 1,000 steps: elapsed_s at the last logged step."""
    rows = [json.loads(l) for l in open("%s/dgm-%s-%s/metrics.jsonl" % (work, fam, ds))
            if l.strip()]
    rows = [r for r in rows if "elapsed_s" in r and r.get("step")]
    return rows[-1]["elapsed_s"] * 1000.0 / rows[-1]["step"]


w2 = {d["file"]: d["metrics"]["w2"] for d in jlines(work + "/w2.log")}
true_nll = {d["dataset"]: d["true_nll"] for d in jlines(work + "/data.log")}
mc_ref = mode_coverage(work + "/gauss8_ref.npy")
fmt = "  %-36s %12s %12s   %s"
print("\nfloors: W2 of 2,000 test rows to the reference: moons %.4f, gauss8 %.4f; the true "
      "density's test NLL: moons %.4f, gauss8 %.4f; the reference's own gauss8 coverage "
      "%d/8, %.1f %% high quality" % (w2["moons_floor"], w2["gauss8_floor"], true_nll["moons"],
                                     true_nll["gauss8"], mc_ref["modes"],
                                     100 * mc_ref["high_quality"]))
verdicts = []


def verdict(name, ok):
    verdicts.append((name, ok))
    return "met" if ok else "NOT met"


for fam in ("ebm", "ncsn"):
    for ds in ("moons", "gauss8"):
        r = dict(bench="score2d_summary", family=fam, dataset=ds, steps=steps[fam], quick=quick)
        p = None
        if peer:
            p = [d for d in jlines("%s/peer_train_%s_%s.log" % (work, fam, ds))
                 if d["what"] == "result"][-1]
        print("\n%s on %s (%d steps)" % (fam, ds, steps[fam]))
        print(fmt % ("", "dgm", "peer" if peer else "", ""))
        # W2
        dw = w2["dgm_%s_%s" % (fam, ds)]
        r["dgm_w2"] = dw
        if peer:
            pw = w2["peer_%s_%s" % (fam, ds)]
            r.update(peer_w2=pw, w2_diff=dw - pw)
            note = "dgm - peer = %+.4f" % (dw - pw)
            if fam == "ncsn" and ds == "moons":
                ok = dw <= pw + W2_MARGIN
                r["w2_target_met"] = ok
                note += " (target <= %+.2f: %s)" % (W2_MARGIN, verdict("ncsn moons W2", ok))
            print(fmt % ("W2 to the reference", "%.4f" % dw, "%.4f" % pw, note))
        else:
            print(fmt % ("W2 to the reference", "%.4f" % dw, "", ""))
        cw = w2.get("dgm_in_peer_%s_%s" % (fam, ds))
        if cw is not None:
            r["dgm_ckpt_in_peer_w2"] = cw
            print(fmt % ("  dgm's weights, the peer's sampler", "%.4f" % cw, "", ""))
        # NLL (ebm)
        if fam == "ebm":
            dn = json.load(open("%s/dgm_eval_%s_%s.json" % (work, fam, ds)))["nll"]
            r["dgm_nll"] = dn
            if peer:
                pn = p["test_nll"]
                ok = dn <= pn + NLL_MARGIN
                r.update(peer_nll=pn, nll_diff=dn - pn, nll_target_met=ok, peer_grid=p["grid"])
                print(fmt % ("test NLL, nats (true %.4f)" % true_nll[ds], "%.4f" % dn,
                             "%.4f" % pn, "dgm - peer = %+.4f (target <= %+.2f: %s)"
                             % (dn - pn, NLL_MARGIN, verdict("ebm %s NLL" % ds, ok))))
            else:
                print(fmt % ("test NLL, nats (true %.4f)" % true_nll[ds], "%.4f" % dn, "", ""))
            c = [d for d in jlines("%s/peer_eval_dgm_%s_%s.log" % (work, fam, ds))
                 if "test_nll" in d]
            if c:
                r["dgm_ckpt_in_peer_nll"] = c[-1]["test_nll"]
                print(fmt % ("  dgm's energy, the peer's grid NLL", "%.4f" % c[-1]["test_nll"],
                             "", "(G %d; dgm eval %.4f)" % (c[-1]["grid"], dn)))
        # mode coverage (gauss8)
        if ds == "gauss8":
            dm = mode_coverage("%s/dgm_%s_%s.npy" % (work, fam, ds))
            r.update(dgm_modes=dm["modes"], dgm_high_quality=dm["high_quality"],
                     dgm_reverse_kl=dm["reverse_kl"])
            ok = dm["modes"] == 8 and dm["high_quality"] >= HQ_TARGET[fam]
            r["modes_target_met"] = ok
            pm = mode_coverage("%s/peer_%s_%s.npy" % (work, fam, ds)) if peer else None
            if pm:
                r.update(peer_modes=pm["modes"], peer_high_quality=pm["high_quality"],
                         peer_reverse_kl=pm["reverse_kl"])
            print(fmt % ("modes of 8, high quality",
                         "%d, %.1f %%" % (dm["modes"], 100 * dm["high_quality"]),
                         "%d, %.1f %%" % (pm["modes"], 100 * pm["high_quality"]) if pm else "",
                         "dgm: target 8/8 and >= %.0f %%: %s"
                         % (100 * HQ_TARGET[fam], verdict("%s gauss8 modes" % fam, ok))))
            cm = "%s/dgm_in_peer_%s_%s.npy" % (work, fam, ds)
            if fam == "ncsn" and os.path.exists(cm):
                cmc = mode_coverage(cm)
                print(fmt % ("  dgm's weights, the peer's sampler",
                             "%d, %.1f %%" % (cmc["modes"], 100 * cmc["high_quality"]), "", ""))
        # speed
        ds_ = dgm_run_s(fam, ds)
        r["dgm_run_s"] = ds_
        if peer:
            ps = peer_s[fam]
            ok = ps >= SPEEDUP * ds_
            r.update(peer_s=ps, peer_run_s=p.get("seconds_per_1k_steps"), peer_over_dgm=ps / ds_,
                     speed_target_met=ok)
            print(fmt % ("s/1k steps (dgm: run; peer: timed)", "%.3f" % ds_, "%.3f" % ps,
                         "peer / dgm = %.2f (target >= %.1f: %s)"
                         % (ps / ds_, SPEEDUP, verdict("%s %s speed" % (fam, ds), ok))))
            print(fmt % ("  the peer's training run, s/1k", "", "%.3f" % p["seconds_per_1k_steps"],
                         ""))
        else:
            print(fmt % ("s/1k steps, the training run", "%.3f" % ds_, "", ""))
        print("json: " + json.dumps(r))

print("\ntargets: %d of %d met%s" % (sum(ok for _, ok in verdicts), len(verdicts),
                                    "" if all(ok for _, ok in verdicts) else
                                    "; not met: " + ", ".join(n for n, ok in verdicts if not ok)))
EOF
echo
echo "W2: dgm compare (exact, 2,000 samples to the test set's first 2,000 rows); modes: as"
echo "dgm_mode_coverage_compute; peer s/1k: the median timed window on moons. logs: $WORK"
