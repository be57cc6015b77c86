#!/usr/bin/env bash
# The 2-D diffusion benchmark end to end (issue 12, "Targets, measured"): dgm and PyTorch
# scripts of the same models (benchmarks/peers/torch_diffusion2d.py) trained side by side on
# moons (sklearn's make_moons, noise 0.1, raw coordinates): DDPM 30,000 steps and I-CFM
# 20,000 steps, dgm's 2-D defaults (`dgm train ddpm|fm --help`). The issue's targets: dgm's
# W2 no worse than the peer's with the default sampler (ancestral over T = 1000 steps;
# Euler, 100 steps), and its time per step within 1.25x of the GEMM-only time of a step.
#
# Steps:
#   data   numpy (benchmarks/peers/toy2d_data.py) writes 20,000 training rows (seed 1) and
#          6 reference sets of 2,000 true points (seeds 11..16): W2 is measured against
#          the first 5 (mean ± sd), and the floor, the W2 between two sets of 2,000 true
#          samples, is the 6th's W2 to each of the 5 (mean ± sd);
#   speed  per model, bench_diffusion2d --model M on the training file under
#          OPENBLAS_NUM_THREADS 1 and 2: dgm's seconds per 1,000 steps (the median of its
#          timed windows) and the GEMM floor of a step; the faster setting by that median
#          trains dgm (a setting with more threads only when THREAD_MARGIN faster). Then
#          the peer's sweep, torch threads {1,2} x OPENBLAS_NUM_THREADS {1,2}, per model,
#          each setting's time the median of its timed windows too; the fastest trains
#          the peer;
#   train  per model: `dgm train M --data train.npy --steps N --device cpu --seed SEED`, then
#          `dgm sample CKPT -n 2000 --seed SAMPLE_SEED`; the peer the same steps from the same
#          seed, 2,000 samples; and, as a check that the two are one model, dgm's checkpoint
#          loaded into the peer (--eval-dgm) and sampled by the peer's sampler: its W2 must
#          agree with dgm's samples of the same weights (within 15 % + 0.01: two sets of
#          2,000 samples of one model differ in W2 by some 5-10 %). DDPM samples from the
#          moving average of its weights (saved in the checkpoint as ema.*);
#   w2     every sample set against the 5 references with bench_diffusion2d --w2 (dgm's
#          exact dgm_wasserstein2);
#   table  (with --steps-table) W2 against the sampler and its steps, from the trained
#          checkpoints: fm Euler/Heun/RK4 at 5, 10, 20, 50, 100 steps; ddpm DDIM (η = 0) at
#          10, 20, 50 and ancestral at T, each by `dgm sample CKPT --set OPTION=VALUE ...`.
#          Checked first, by an independent route: bench_diffusion2d --sample (which makes
#          the model under the changed config itself and copies the checkpoint's tensors
#          into it) gives `dgm sample --set`'s samples bit for bit (fm, RK4, 10 steps);
#   report per model: W2 mean ± sd of dgm, the peer and dgm-in-the-peer, the floor, dgm −
#          peer against the target; s/1k steps (the median timed window, both sides, and
#          the whole training run) of both, peer/dgm, dgm/floor against 1.25; JSON lines
#          (bench "diffusion2d_summary", "diffusion2d_steps").
#
# Usage: benchmarks/run_bench_diffusion2d.sh [--quick] [--ddpm-steps N] [--fm-steps N]
#                                            [--no-peer] [--steps-table]
#   --quick         a smoke run: 1,000 training steps each, short timings, a short peer sweep
#   --ddpm-steps N  DDPM's training steps, dgm and the peer (default 30000; 1000 with --quick)
#   --fm-steps N    I-CFM's (default 20000; 1000 with --quick)
#   --no-peer       dgm only
#   --steps-table   also the table of W2 against the sampler's steps
# Environment:
#   BUILD_DIR        build folder (default build); configured Release and built if needed
#   JOBS             parallel build jobs (default 1)
#   SEED             training seed of dgm and the peer (default 0)
#   SAMPLE_SEED      seed of the 2,000 samples (default 1)
#   DGM_BLAS_THREADS OPENBLAS_NUM_THREADS values bench_diffusion2d runs under; dgm trains
#                    under the fastest (default "1 2"; "1": skip the comparison)
#   THREAD_MARGIN    how much faster (a fraction) a setting with more threads must time to
#                    be taken (default 0.05)
#   BENCH_ARGS       more arguments of bench_diffusion2d's timing (default none: 3 windows of
#                    1000 steps; --quick adds --quick)
#   PEER_TIME_ARGS   the peer's timing arguments, the median of its windows taken (default
#                    --time-only 1000 --windows 2; with --quick: --time-only 200 --windows 2
#                    --warmup 20)
#   PEER_TIMEOUT     seconds one peer timing setting may take before it is skipped (default
#                    600; 120 with --quick)
#   PYTHON           python with torch and numpy (default /usr/bin/python3, Debian's)
#   WORK             folder for data, logs and checkpoints (default: a fresh one under /tmp)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-1}
SEED=${SEED:-0}
SAMPLE_SEED=${SAMPLE_SEED:-1}
BENCH_ARGS=${BENCH_ARGS:-}
PYTHON=${PYTHON:-/usr/bin/python3}
PEER=$ROOT/benchmarks/peers/torch_diffusion2d.py
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-diffusion2d.XXXXXX)}
mkdir -p "$WORK"

quick=0 peer=1 steps_table=0 ddpm_steps='' fm_steps=''
num_arg() {
  [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] ||
    { echo "run_bench_diffusion2d.sh: $1 needs a positive number" >&2; exit 2; }
}
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --no-peer) peer=0 ;;
    --steps-table) steps_table=1 ;;
    --ddpm-steps) num_arg "$@"; ddpm_steps=$2; shift ;;
    --fm-steps) num_arg "$@"; fm_steps=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0"; exit 0 ;;
    *) echo "run_bench_diffusion2d.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  ddpm_steps=${ddpm_steps:-1000} fm_steps=${fm_steps:-1000}
  BENCH_ARGS="${BENCH_ARGS:+$BENCH_ARGS }--quick"
  PEER_TIME_ARGS=${PEER_TIME_ARGS:---time-only 200 --windows 2 --warmup 20}
  PEER_TIMEOUT=${PEER_TIMEOUT:-120}
else
  ddpm_steps=${ddpm_steps:-30000} fm_steps=${fm_steps:-20000}
  PEER_TIME_ARGS=${PEER_TIME_ARGS:---time-only 1000 --windows 2}
  PEER_TIMEOUT=${PEER_TIMEOUT:-600}
fi
DGM_BLAS_THREADS=${DGM_BLAS_THREADS:-1 2}
THREAD_MARGIN=${THREAD_MARGIN:-0.05}
MODELS="ddpm fm"
NREF=5

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"

steps_of() { if [[ $1 = ddpm ]]; then echo "$ddpm_steps"; else echo "$fm_steps"; fi; }

echo "== dgm bench_diffusion2d ($(date -u +%F), $(uname -m), $(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
echo "work folder: $WORK; ddpm $ddpm_steps, fm $fm_steps training steps, seed $SEED," \
     "sample seed $SAMPLE_SEED"
load_warning
"$PYTHON" -c "import numpy" 2>/dev/null ||
  { echo "run_bench_diffusion2d.sh: $PYTHON has no numpy (apt-get install python3-numpy)" >&2; exit 1; }

# ---- build ----
bench_build bench_diffusion2d
DGM=$BUILD_DIR/dgm
BENCH=$BUILD_DIR/benchmarks/bench_diffusion2d

# ---- data ----
echo
echo "== data (numpy): moons, 20,000 training rows and 6 reference sets of 2,000"
"$PYTHON" - "$WORK" "$ROOT/benchmarks/peers" <<'EOF' | tee "$WORK/data.log"
import json, sys
import numpy as np

work = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from toy2d_data import make_moons  # noqa: E402

np.save(work + "/moons_train.npy",
        make_moons(20000, 0.1, np.random.RandomState(1)).astype(np.float32))
for i in range(6):
    np.save("%s/ref_%d.npy" % (work, i),
            make_moons(2000, 0.1, np.random.RandomState(11 + i)).astype(np.float32))
print("moons_train.npy (20000 rows, seed 1); ref_0..ref_5.npy (2000 rows each, seeds 11..16)")
print("json: " + json.dumps(dict(bench="diffusion2d_data", train=20000, refs=6, ref_rows=2000)))
EOF

# W2 of a sample file against the references 0..NREF-1, lines appended to $WORK/w2.log
w2_refs() {
  local f=$1 i
  for ((i = 0; i < NREF; i++)); do
    "$BENCH" --w2 "$f" "$WORK/ref_$i.npy" | grep '^json: ' >>"$WORK/w2.log"
  done
}
: >"$WORK/w2.log"
echo "the floor: W2 of ref_5 to each of ref_0..ref_4"
w2_refs "$WORK/ref_5.npy"

# ---- speed: dgm against its GEMM floor, per model and OpenBLAS thread count ----
declare -A D_S F_S D_OB D_BLAS P_S P_T P_OB P_ADAM TABLE
for m in $MODELS; do
  # shellcheck disable=SC2086
  dgm_sweep "bench_$m" "bench_diffusion2d --model $m --data moons_train.npy${BENCH_ARGS:+ $BENCH_ARGS}" \
    seconds_per_1k_steps "$THREAD_MARGIN" --model "$m" --data "$WORK/moons_train.npy" \
    --seed "$SEED" $BENCH_ARGS
  D_S[$m]=$dgm_s F_S[$m]=$floor_s D_OB[$m]=$dgm_ob D_BLAS[$m]=$dgm_blas TABLE[$m]=$table
done
for m in $MODELS; do
  echo
  echo "$m:"
  table=${TABLE[$m]}
  print_dgm_table
  echo "dgm trains $m with OPENBLAS_NUM_THREADS=${D_OB[$m]} (the fastest; more threads only" \
       "when $(calc "round(100 * $THREAD_MARGIN)") % faster)"
done

# ---- speed: the peer's sweep over torch threads x OpenBLAS threads, per model ----
if ((peer)); then
  "$PYTHON" -c "import torch" ||
    { echo "the peer needs torch for $PYTHON (apt-get install python3-torch)"; exit 1; }
  for m in $MODELS; do
    echo
    echo "== PyTorch peer timing, $m on moons ($PEER_TIME_ARGS per setting)"
    # shellcheck disable=SC2086
    peer_sweep "peer_time_$m" seconds_per_1k_steps "s/1k steps" "$THREAD_MARGIN" \
      --model "$m" --data "$WORK/moons_train.npy" --seed "$SEED" $PEER_TIME_ARGS
    [[ -n $peer_s ]] || { echo "run_bench_diffusion2d.sh: every peer setting failed" >&2; exit 1; }
    P_S[$m]=$peer_s P_T[$m]=$peer_t P_OB[$m]=$peer_ob P_ADAM[$m]=$peer_adam
    echo "the peer trains $m with torch.set_num_threads($peer_t), OPENBLAS_NUM_THREADS=$peer_ob"
  done
fi

# the config of a checkpoint with some options replaced: config_of CKPT KEY=VALUE...
config_of() {
  "$PYTHON" - "$@" <<'EOF'
import json, struct, sys
path, *sets = sys.argv[1:]
raw = open(path, "rb").read(1 << 20)
n = struct.unpack("<Q", raw[:8])[0]
cfg = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["config"])
for s in sets:
  k, v = s.split("=", 1)
  cfg[k] = int(v) if v.isdigit() else v
print(json.dumps(cfg))
EOF
}

# ---- train, sample, W2 ----
for m in $MODELS; do
  n=$(steps_of "$m")
  ob=${D_OB[$m]}
  echo
  echo "== $m: dgm train $m --steps $n (OPENBLAS_NUM_THREADS=$ob)"
  OPENBLAS_NUM_THREADS=$ob "$DGM" train "$m" --data "$WORK/moons_train.npy" --steps "$n" \
    --device cpu --seed "$SEED" --out "$WORK/dgm-$m" >"$WORK/dgm_train_$m.log"
  tail -2 "$WORK/dgm_train_$m.log"
  OPENBLAS_NUM_THREADS=$ob "$DGM" sample "$WORK/dgm-$m/checkpoint.safetensors" -n 2000 \
    --seed "$SAMPLE_SEED" --device cpu -o "$WORK/dgm_$m.npy"
  w2_refs "$WORK/dgm_$m.npy"
  if ((peer)); then
    "$PYTHON" "$PEER" --model "$m" --eval-dgm "$WORK/dgm-$m/checkpoint.safetensors" \
      --seed "$SAMPLE_SEED" --samples "$WORK/dgm_in_peer_$m.npy" >"$WORK/peer_eval_dgm_$m.log"
    grep -v '^json: ' "$WORK/peer_eval_dgm_$m.log"
    w2_refs "$WORK/dgm_in_peer_$m.npy"
    echo "== $m: the peer, $n steps (torch threads ${P_T[$m]}, OPENBLAS_NUM_THREADS=${P_OB[$m]})"
    OPENBLAS_NUM_THREADS=${P_OB[$m]} "$PYTHON" "$PEER" --model "$m" \
      --data "$WORK/moons_train.npy" --steps "$n" --seed "$SEED" --threads "${P_T[$m]}" \
      --samples "$WORK/peer_$m.npy" >"$WORK/peer_train_$m.log"
    grep -v '^json: ' "$WORK/peer_train_$m.log" | tail -2
    w2_refs "$WORK/peer_$m.npy"
  fi
done

# ---- W2 against the sampler's steps ----
if ((steps_table)); then
  echo
  echo "== W2 against the sampler's steps (dgm sample CKPT --set OPTION=VALUE ...)"
  : >"$WORK/steps.log"
  ck=$WORK/dgm-fm/checkpoint.safetensors
  # two routes, one result: bench_diffusion2d --sample makes the model of the changed
  # config itself and copies the checkpoint's tensors into it
  OPENBLAS_NUM_THREADS=${D_OB[fm]} "$DGM" sample "$ck" --set solver=rk4 --set sample-steps=10 \
    -n 2000 --seed "$SAMPLE_SEED" --device cpu -o "$WORK/check_fm_set.npy" >/dev/null
  OPENBLAS_NUM_THREADS=${D_OB[fm]} "$BENCH" --sample "$ck" \
    --config "$(config_of "$ck" solver=rk4 sample-steps=10)" -n 2000 --seed "$SAMPLE_SEED" \
    -o "$WORK/check_fm_bench.npy" >/dev/null
  same=$("$PYTHON" -c "import numpy as n, sys; print(int((n.load(sys.argv[1]) == n.load(sys.argv[2])).all()))" \
    "$WORK/check_fm_set.npy" "$WORK/check_fm_bench.npy")
  echo "dgm sample --set solver=rk4 --set sample-steps=10 == bench_diffusion2d --sample, bit for bit: $([[ $same = 1 ]] && echo yes || echo NO)"
  echo "json: {\"bench\":\"diffusion2d_steps_check\",\"identical\":$([[ $same = 1 ]] && echo true || echo false)}" >>"$WORK/steps.log"
  for solver in euler heun rk4; do
    for s in 5 10 20 50 100; do
      f=$WORK/steps_fm_${solver}_$s.npy
      OPENBLAS_NUM_THREADS=${D_OB[fm]} "$DGM" sample "$ck" --set solver=$solver \
        --set sample-steps=$s -n 2000 --seed "$SAMPLE_SEED" --device cpu -o "$f"
      w2_refs "$f"
    done
  done
  ck=$WORK/dgm-ddpm/checkpoint.safetensors
  for s in 10 20 50; do
    f=$WORK/steps_ddpm_ddim_$s.npy
    OPENBLAS_NUM_THREADS=${D_OB[ddpm]} "$DGM" sample "$ck" --set sampler=ddim \
      --set sample-steps=$s -n 2000 --seed "$SAMPLE_SEED" --device cpu -o "$f"
    w2_refs "$f"
  done
fi

# ---- summary ----
echo
echo "== summary (cpu, ddpm $ddpm_steps / fm $fm_steps steps, seed $SEED$( ((quick)) && echo ', quick: NOT the issue'"'"'s full run'))"
for m in $MODELS; do
  echo "dgm $m:  OPENBLAS_NUM_THREADS=${D_OB[$m]}; ${D_BLAS[$m]}"
  if ((peer)); then
    echo "peer $m: PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)'), ${P_ADAM[$m]}," \
         "torch.set_num_threads(${P_T[$m]}), OPENBLAS_NUM_THREADS=${P_OB[$m]}"
  fi
done
"$PYTHON" - "$WORK" "$ddpm_steps" "$fm_steps" "$quick" "$peer" "$steps_table" \
  "${D_S[ddpm]}" "${F_S[ddpm]}" "${P_S[ddpm]:-nan}" "${D_S[fm]}" "${F_S[fm]}" "${P_S[fm]:-nan}" <<'EOF'
import json, math, os, sys

work = sys.argv[1]
steps = {"ddpm": int(sys.argv[2]), "fm": int(sys.argv[3])}
quick, peer, table = (a == "1" for a in sys.argv[4:7])
speed = {"ddpm": [float(v) for v in sys.argv[7:10]], "fm": [float(v) for v in sys.argv[10:13]]}
ISSUE_PEER = {"ddpm": (0.086, 5.75), "fm": (0.163, 1.55)}  # the issue's peer numbers, 2 cores
SAMPLER = {"ddpm": "ancestral, T = 1000", "fm": "Euler, 100 steps"}


def jlines(path):
    return [json.loads(l[6:]) for l in open(path) if l.startswith("json: ")]


w2 = {}
for d in jlines(work + "/w2.log"):
    w2.setdefault(os.path.basename(d["a"])[:-4], []).append(d["w2"])


def stat(name):
    v = w2[name]
    mean = sum(v) / len(v)
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return mean, sd


fl, fl_sd = stat("ref_5")
print("\nfloor (W2 of 2,000 true points to 2,000 others): %.4f ± %.4f" % (fl, fl_sd))
for m in ("ddpm", "fm"):
    dgm_s, floor_s, peer_s = speed[m]
    dw, dw_sd = stat("dgm_" + m)
    last = [json.loads(l) for l in open("%s/dgm-%s/metrics.jsonl" % (work, m))][-1]
    dgm_run = last["elapsed_s"] * 1000.0 / last["step"]
    r = dict(bench="diffusion2d_summary", model=m, steps=steps[m], quick=quick,
             sampler=SAMPLER[m], floor_w2=fl, floor_w2_sd=fl_sd, dgm_w2=dw, dgm_w2_sd=dw_sd,
             dgm_s=dgm_s, dgm_run_s=dgm_run, gemm_floor_s=floor_s,
             dgm_over_floor=dgm_s / floor_s, floor_target_met=dgm_s <= 1.25 * floor_s)
    print("\n%s (%d steps; sampler %s; W2 mean ± sd over 5 reference sets of 2,000)"
          % (m, steps[m], SAMPLER[m]))
    print("  %-34s %16s %16s" % ("", "dgm", "peer" if peer else ""))
    ema = m == "ddpm"
    if peer:
        pw, pw_sd = stat("peer_" + m)
        cw, cw_sd = stat("dgm_in_peer_" + m)
        p = [d for d in jlines("%s/peer_train_%s.log" % (work, m)) if d["what"] == "result"][-1]
        met = dw <= pw
        # two sets of 2,000 samples of one model differ in W2 by some 5-10 % (the sd over
        # the references is far smaller: it holds the samples fixed)
        same = abs(cw - dw) <= 0.15 * max(cw, dw) + 0.01
        r.update(peer_w2=pw, peer_w2_sd=pw_sd, w2_diff=dw - pw, w2_target_met=met,
                 dgm_ckpt_in_peer_w2=cw, dgm_ckpt_in_peer_w2_sd=cw_sd, same_model=same,
                 peer_s=peer_s, peer_stat="median", peer_run_s=p["seconds_per_1k_steps"],
                 peer_over_dgm=peer_s / dgm_s,
                 issue_peer_w2=ISSUE_PEER[m][0], issue_peer_s=ISSUE_PEER[m][1])
        print("  %-34s %9.4f ±%.4f %9.4f ±%.4f   dgm - peer = %+.4f (target <= 0: %s)"
              % ("W2 to the data" + (" (EMA weights)" if ema else ""), dw, dw_sd, pw, pw_sd,
                 dw - pw, "met" if met else "NOT met"))
        print("  %-34s %9.4f ±%.4f %16s   (the peer's sampler on dgm's %s: agrees with "
              "%.4f: %s)"
              % ("dgm's checkpoint in the peer", cw, cw_sd, "",
                 "EMA" if ema else "weights", dw, "yes" if same else "NO"))
        print("  %-34s %16.3f %16.3f   peer / dgm = %.2f"
              % ("s/1k steps, median timed window", dgm_s, peer_s, peer_s / dgm_s))
        print("  %-34s %16.3f %16.3f   peer / dgm = %.2f"
              % ("s/1k steps, the training run", dgm_run, p["seconds_per_1k_steps"],
                 p["seconds_per_1k_steps"] / dgm_run))
        print("  %-34s %16s %16s   (the issue's peer, 2 cores: W2 %.3f, %.2f s/1k)"
              % ("", "", "", ISSUE_PEER[m][0], ISSUE_PEER[m][1]))
    else:
        print("  %-34s %9.4f ±%.4f" % ("W2 to the data" + (" (EMA weights)" if ema else ""),
                                      dw, dw_sd))
        print("  %-34s %16.3f" % ("s/1k steps, median timed window", dgm_s))
        print("  %-34s %16.3f" % ("s/1k steps, the training run", dgm_run))
    print("  %-34s %16.3f %16s   dgm / floor = %.2f (target <= 1.25: %s)"
          % ("GEMM floor, s/1k steps", floor_s, "", dgm_s / floor_s,
             "met" if dgm_s <= 1.25 * floor_s else "NOT met"))
    print("json: " + json.dumps(r))

if table:
    print("\nW2 against the sampler's steps (dgm's checkpoints; mean ± sd over the 5 "
          "reference sets; floor %.4f)" % fl)
    print("  %-8s %-10s %8s %16s" % ("model", "sampler", "steps", "W2"))
    rows = [("fm", s, n, "steps_fm_%s_%d" % (s, n)) for s in ("euler", "heun", "rk4")
            for n in (5, 10, 20, 50, 100)]
    rows += [("ddpm", "ddim", n, "steps_ddpm_ddim_%d" % n) for n in (10, 20, 50)]
    rows += [("ddpm", "ancestral", 1000, "dgm_ddpm")]
    for m, s, n, name in rows:
        if name not in w2:
            continue
        mean, sd = stat(name)
        print("  %-8s %-10s %8d %9.4f ±%.4f" % (m, s, n, mean, sd))
        print("json: " + json.dumps(dict(bench="diffusion2d_steps", model=m, sampler=s,
                                         steps=n, w2=mean, w2_sd=sd)))
EOF
echo
echo "timed windows: the median window of bench_diffusion2d and of the peer's fastest"
echo "setting; the training run: its whole-run mean under the same settings. logs: $WORK"
