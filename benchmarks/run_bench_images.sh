#!/usr/bin/env bash
# The image families against their PyTorch peers on Fashion-MNIST (issue 29: every
# family's FID within 1.1x of its peer's at the same budget). Per family (fm ddpm gan vae
# realnvp):
#   dgm    `dgm train MODEL --data fashion-mnist` with the family's defaults (vae: --net
#          conv; realnvp: its default on images, the multi-scale flow; plus $<MODEL>_ARGS)
#          and --log-every 1, so that metrics.jsonl times every step (its elapsed_s); then
#          `dgm sample CKPT -n N -o dgm.npy --seed SEED`, timed;
#   peer   benchmarks/peers/torch_images.py --dgm-config CKPT (realnvp:
#          benchmarks/peers/torch_realnvp_multiscale.py --dgm-config CKPT): the same
#          network, budget (the checkpoint's steps, batch, optimizer, lr and warm-up) and
#          sampler in PyTorch, N samples to peer.npy, its trained state to peer.pt (for
#          sampler sweeps: torch_images.py --sample-only peer.pt --sampler ...
#          --sample-steps ...);
#   cross  (with CROSS_CHECK=1; on with --quick) the peer's sampler on dgm's weights
#          (--sample-only CKPT): separates a sampler difference from a training one;
#   score  `dgm compare X.npy fashion-mnist --metric fid,is` for each side (dgm's
#          classifier, the 10,000 test images); vae: the test negative ELBO (dgm eval's
#          elbo; the peer's own, one z per image, on the same images); realnvp: the test
#          bits per dimension (dgm eval's bpd; the peer's own; one dequantization draw
#          each, on the same images);
#   report one JSON line per family (prefix "json: ", bench "images_summary") with both
#          sides' FID, IS, s/step (the median over the steps after the first 5), training
#          and sampling seconds, (vae) ELBO, (realnvp) dgm_bpd and peer_bpd, fid_ratio =
#          dgm / peer against the target 1.1;
#          the lines also go to WORK/images.jsonl (and are appended to $RESULTS when set);
#          and MODEL/side-by-side.png: 64 samples of dgm (left) and of the peer (right;
#          with the cross check, dgm's weights under the peer's sampler on the far right).
#
# Usage: benchmarks/run_bench_images.sh [--quick] [--families "fm ddpm"] [--n N] [--no-peer]
#   --quick      a smoke run: QUICK_STEPS (8) steps of batch 16, 200 samples, samplers cut to
#                4 steps (fm --sample-steps 4, ddpm --sampler ddim --sample-steps 4): checks
#                the pipeline, not the issue's numbers
#   --families   a subset of "fm ddpm gan vae realnvp" (comma- or space-separated)
#   --n N        samples per side (default 5000; 200 with --quick)
#   --no-peer    dgm only
#   --reuse      keep a family's dgm side already in WORK (its checkpoint, samples, scores and
#                eval from an earlier run into the same WORK) and run only what is missing:
#                the peer of a dgm run whose peer was stopped, say
# Sampling dominates a full run on CPU: each side draws N samples with the checkpoint's
# sampler, N x (sampler steps) network passes (fm: 100 Euler steps; ddpm: ancestral, all
# 1,000 steps, hours at N = 5000 with the UNet: DDPM_ARGS="--sampler ddim --sample-steps 50"
# or a smaller --n for a shorter run; the peer's --sample-only sweeps reuse its peer.pt).
# Environment:
#   BUILD_DIR    build folder (default build); DGM the dgm binary (default BUILD_DIR/dgm,
#                built unless NO_BUILD=1 or DGM is set)
#   FM_ARGS, DDPM_ARGS, GAN_ARGS, VAE_ARGS, REALNVP_ARGS  more `dgm train` arguments
#                per family (VAE_ARGS default: --net conv)
#   SEED         training and sampling seed of both sides (default 0)
#   PEER_THREADS torch.set_num_threads of the peer (default 2: the faster of 1 and 2 on
#                the 2-core machine); PEER_OPENBLAS its OPENBLAS_NUM_THREADS (default the same)
#   CROSS_CHECK  1: also sample dgm's checkpoint with the peer's sampler (default 0; 1 with --quick)
#   PYTHON       python with torch and numpy (default /usr/bin/python3, Debian's)
#   WORK         folder for the runs, logs and samples (default: a fresh one under /tmp)
#   RESULTS      a .jsonl file the summary lines are also appended to
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-2}
SEED=${SEED:-0}
PYTHON=${PYTHON:-/usr/bin/python3}
PEERS=$ROOT/benchmarks/peers
PEER_THREADS=${PEER_THREADS:-2}
PEER_OPENBLAS=${PEER_OPENBLAS:-$PEER_THREADS}
QUICK_STEPS=${QUICK_STEPS:-8}
VAE_ARGS=${VAE_ARGS---net conv}
TARGET=1.1 # the issue's: dgm's FID <= 1.1 x the peer's
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-images.XXXXXX)}
mkdir -p "$WORK"

quick=0 peer=1 reuse=0 families="fm ddpm gan vae realnvp" n=''
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --no-peer) peer=0 ;;
    --reuse) reuse=1 ;;
    --families) [[ $# -ge 2 ]] || { echo "run_bench_images.sh: --families needs names" >&2; exit 2; }
                families=${2//,/ }; shift ;;
    --n) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] ||
           { echo "run_bench_images.sh: --n needs a positive number" >&2; exit 2; }
         n=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0"; exit 0 ;;
    *) echo "run_bench_images.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
for f in $families; do
  [[ " fm ddpm gan vae realnvp " = *" $f "* ]] ||
    { echo "run_bench_images.sh: unknown family $f (known: fm ddpm gan vae realnvp)" >&2; exit 2; }
done
if ((quick)); then
  n=${n:-200}
  CROSS_CHECK=${CROSS_CHECK:-1}
else
  n=${n:-5000}
  CROSS_CHECK=${CROSS_CHECK:-0}
fi

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"
bench_dgm "$0"
openblas_coretype_for_all

# The arguments of `dgm train` for a family beyond --data, --seed and --out.
train_args() {
  local fam=$1 extra
  case $fam in
    fm) extra=${FM_ARGS:-} ;;
    ddpm) extra=${DDPM_ARGS:-} ;;
    gan) extra=${GAN_ARGS:-} ;;
    vae) extra=$VAE_ARGS ;;
    realnvp) extra=${REALNVP_ARGS:-} ;;
  esac
  if ((quick)); then
    printf '%s ' --steps "$QUICK_STEPS" --batch 16
    case $fam in
      fm) printf '%s ' --sample-steps 4 ;;
      ddpm) printf '%s ' --sampler ddim --sample-steps 4 ;;
    esac
  fi
  printf '%s' "$extra"
}

# The family's PyTorch peer.
peer_of() {
  case $1 in
    realnvp) echo "$PEERS/torch_realnvp_multiscale.py" ;;
    *) echo "$PEERS/torch_images.py" ;;
  esac
}

# The seconds of a command into the variable named $1: timed VAR CMD...
timed() {
  local var=$1 t0 rc=0
  shift
  t0=$(date +%s.%N)
  "$@" || rc=$?
  printf -v "$var" '%s' "$(calc "$(date +%s.%N) - $t0")"
  return $rc
}

# dgm compare X.npy fashion-mnist --metric fid,is into FILE (one JSON object).
score() {
  "$DGM" compare "$1" fashion-mnist --metric fid,is >"$2" 2>"$2.err" ||
    { cat "$2.err" >&2; return 1; }
  cat "$2"
}

echo "== dgm image families against PyTorch on Fashion-MNIST ($(date -u +%F), $(uname -m)," \
     "$(nproc) cpus, load:$(uptime | sed 's/.*load average://'))"
echo "work folder: $WORK; families: $families; $n samples per side; seed $SEED$( ((quick)) && echo '; QUICK')"
load_warning
"$PYTHON" -c "import torch, numpy" 2>/dev/null ||
  { echo "run_bench_images.sh: $PYTHON lacks torch or numpy (apt-get install python3-torch python3-numpy)" >&2; exit 1; }

failed=()
# Whether an earlier run into this WORK left dgm's whole side of a family in DIR.
dgm_side_done() {
  local d=$1
  [[ -s $d/dgm/checkpoint.safetensors && -s $d/dgm/metrics.jsonl && -s $d/dgm.npy &&
     -s $d/dgm_score.json ]] || return 1
  case $d in
    */vae|*/realnvp) [[ -s $d/dgm_eval.json ]] ;;
  esac
}

run_family() {
  local fam=$1 dir=$WORK/$1 ckpt args train_s sample_s peer_wall='' cross_s='' peer_py
  peer_py=$(peer_of "$fam")
  mkdir -p "$dir"
  ckpt=$dir/dgm/checkpoint.safetensors
  read -r -a args <<<"$(train_args "$fam")"
  echo
  if ((reuse)) && dgm_side_done "$dir"; then
    train_s=$(cat "$dir/dgm_train_s" 2>/dev/null ||
              "$PYTHON" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["elapsed_s"])' \
                "$dir/dgm/metrics.jsonl")
    sample_s=$(cat "$dir/dgm_sample_s" 2>/dev/null || echo 0)
    echo "== $fam: dgm's side kept from an earlier run in $dir (--reuse)"
  else
    echo "== $fam: dgm train $fam --data fashion-mnist ${args[*]} --log-every 1"
    timed train_s "$DGM" train "$fam" --data fashion-mnist --seed "$SEED" --out "$dir/dgm" \
      --log-every 1 "${args[@]}" >"$dir/dgm_train.log" 2>&1 ||
      { tail -5 "$dir/dgm_train.log"; return 1; }
    tail -2 "$dir/dgm_train.log"
    "$DGM" info "$ckpt" | sed -n '2,3p'
    echo "== $fam: dgm sample -n $n"
    timed sample_s "$DGM" sample "$ckpt" -n "$n" -o "$dir/dgm.npy" --seed "$SEED" \
      >"$dir/dgm_sample.log" 2>&1 || { tail -5 "$dir/dgm_sample.log"; return 1; }
    echo "$(tail -1 "$dir/dgm_sample.log") in $(printf '%.1f' "$sample_s") s"
    score "$dir/dgm.npy" "$dir/dgm_score.json" || return 1
    if [[ $fam = vae || $fam = realnvp ]]; then
      local metric=elbo
      [[ $fam = vae ]] || metric=bpd
      echo "== $fam: dgm eval --metric $metric"
      "$DGM" eval "$ckpt" --metric "$metric" >"$dir/dgm_eval.json" 2>"$dir/dgm_eval.err" ||
        { cat "$dir/dgm_eval.err"; return 1; }
      cat "$dir/dgm_eval.json"
    fi
    echo "$train_s" >"$dir/dgm_train_s"
    echo "$sample_s" >"$dir/dgm_sample_s"
  fi
  if ((peer)); then
    echo "== $fam: the PyTorch peer (--dgm-config; torch threads $PEER_THREADS," \
         "OPENBLAS_NUM_THREADS=$PEER_OPENBLAS)"
    timed peer_wall env OPENBLAS_NUM_THREADS="$PEER_OPENBLAS" "$PYTHON" "$peer_py" \
      --dgm-config "$ckpt" --n "$n" --out "$dir/peer.npy" --save "$dir/peer.pt" \
      --threads "$PEER_THREADS" --seed "$SEED" >"$dir/peer.log" 2>&1 ||
      { tail -5 "$dir/peer.log"; return 1; }
    grep -v '^json: ' "$dir/peer.log" | tail -3
    score "$dir/peer.npy" "$dir/peer_score.json" || return 1
    if ((CROSS_CHECK)); then
      echo "== $fam: dgm's weights under the peer's sampler"
      timed cross_s env OPENBLAS_NUM_THREADS="$PEER_OPENBLAS" "$PYTHON" "$peer_py" \
        --sample-only "$ckpt" --n "$n" --out "$dir/cross.npy" --threads "$PEER_THREADS" \
        --seed "$SEED" >"$dir/cross.log" 2>&1 || { tail -5 "$dir/cross.log"; return 1; }
      score "$dir/cross.npy" "$dir/cross_score.json" || return 1
    fi
  fi
  "$PYTHON" - "$ROOT/benchmarks/peers" "$dir" "$fam" "$n" "$quick" "$TARGET" "$train_s" \
    "$sample_s" "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
    "${args[*]}" "$peer_wall" "$cross_s" <<'EOF' | tee -a "$WORK/summary.log"
import json, os, statistics, sys

import numpy as np

sys.path.insert(0, sys.argv[1])
from torch_realnvp_images import write_png_gray  # noqa: E402

d, fam, n, quick, target = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1", \
    float(sys.argv[6])
train_wall, sample_s, dgm_version, dgm_args = float(sys.argv[7]), float(sys.argv[8]), \
    sys.argv[9], sys.argv[10]
peer_wall, cross_s = (float(v) if v else None for v in sys.argv[11:13])
UNTIMED = 5  # as the peer: the median over the steps after the first 5


def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None


def peer_result(name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    lines = [json.loads(l[6:]) for l in open(p) if l.startswith("json: ")]
    return lines[-1] if lines else None


# dgm's per-step times: the differences of elapsed_s between consecutive metrics lines
# (--log-every 1: one line per step; the first line's from the trainer's start)
m = [json.loads(l) for l in open(os.path.join(d, "dgm", "metrics.jsonl")) if l.strip()]
el = [r["elapsed_s"] for r in m]
steps_dt = [b - a for a, b in zip([0.0] + el[:-1], el)]
timed = steps_dt[UNTIMED:] if len(steps_dt) > UNTIMED else steps_dt
ds, ps, cs = load("dgm_score.json"), load("peer_score.json"), load("cross_score.json")
p = peer_result("peer.log")
r = dict(bench="images_summary", family=fam, quick=quick, n=n, steps=m[-1]["step"],
         dgm_args=dgm_args, dgm_fid=ds["fid"], dgm_is=ds["is"],
         dgm_s_per_step=statistics.median(timed), dgm_train_s=el[-1], dgm_train_wall_s=train_wall,
         dgm_sample_s=sample_s, dgm=dgm_version)
ev = load("dgm_eval.json")
if ev and "elbo" in ev:
    r["dgm_elbo"] = ev["elbo"]
if ev and "bpd" in ev:
    r["dgm_bpd"] = ev["bpd"]
if p:
    r.update(batch=p["batch"], peer_fid=ps["fid"], peer_is=ps["is"], peer_s_per_step=p["s_per_step"],
             peer_train_s=p["train_s"], peer_sample_s=p["sample_s"], peer_sampler=p["sampler"],
             peer_wall_s=peer_wall,
             torch=p["torch"], peer_threads=p["threads"], peer_openblas_threads=p["openblas_threads"],
             peer_adam=p["adam"], fid_ratio=ds["fid"] / ps["fid"], target=target,
             target_met=ds["fid"] <= target * ps["fid"],
             s_per_step_ratio=r["dgm_s_per_step"] / p["s_per_step"])
    if "test_elbo" in p:
        r["peer_elbo"] = p["test_elbo"]
    if "test_bpd" in p:
        r["peer_bpd"] = p["test_bpd"]
if cs:
    r.update(cross_fid=cs["fid"], cross_is=cs["is"], cross_wall_s=cross_s)

# 64 samples of each side, side by side (dgm | peer | dgm's weights, the peer's sampler)
grids = []
for name in ("dgm.npy", "peer.npy", "cross.npy"):
    path = os.path.join(d, name)
    if os.path.exists(path):
        x = np.load(path)[:64]
        k = x.shape[0] // 8 * 8 or x.shape[0]
        cols = min(8, k)
        g = np.clip(x[:k], 0, 1).reshape(k // cols, cols, 28, 28).transpose(0, 2, 1, 3)
        grids.append(g.reshape(-1, cols * 28))
if grids:
    h = max(g.shape[0] for g in grids)
    gap = np.full((h, 8), 0.5, dtype=np.float32)
    parts = []
    for i, g in enumerate(grids):
        parts += ([gap] if i else []) + [np.pad(g, ((0, h - g.shape[0]), (0, 0)))]
    png = os.path.join(d, "side-by-side.png")
    write_png_gray(png, np.round(np.concatenate(parts, axis=1) * 255).astype(np.uint8))
    r["png"] = png

print("%s: FID dgm %.2f%s; IS dgm %.3f%s; s/step dgm %.4f%s" % (
    fam, r["dgm_fid"], " peer %.2f (dgm/peer %.3f, target <= %.1f: %s)" % (
        r["peer_fid"], r["fid_ratio"], target, "met" if r["target_met"] else "NOT met") if p else "",
    r["dgm_is"], " peer %.3f" % r["peer_is"] if p else "", r["dgm_s_per_step"],
    " peer %.4f" % r["peer_s_per_step"] if p else ""))
if cs:
    print("%s: dgm's weights under the peer's sampler: FID %.2f, IS %.3f" % (fam, cs["fid"], cs["is"]))
if "dgm_elbo" in r:
    print("%s: test negative ELBO dgm %.3f%s" % (fam, r["dgm_elbo"],
                                                 " peer %.3f" % r["peer_elbo"] if "peer_elbo" in r else ""))
if "dgm_bpd" in r:
    print("%s: test bits per dimension dgm %.4f%s" % (fam, r["dgm_bpd"],
                                                      " peer %.4f" % r["peer_bpd"] if "peer_bpd" in r else ""))
print("json: " + json.dumps(r))
EOF
}

for fam in $families; do
  if ! run_family "$fam"; then
    echo "run_bench_images.sh: $fam failed (logs: $WORK/$fam)" >&2
    failed+=("$fam")
  fi
done

echo
echo "== summary ($n samples per side$( ((quick)) && echo ', QUICK: not the issue'"'"'s numbers'))"
if [[ -f $WORK/summary.log ]]; then
  grep -v '^json: ' "$WORK/summary.log"
  grep '^json: ' "$WORK/summary.log" | sed 's/^json: //' >"$WORK/images.jsonl"
  [[ -z ${RESULTS:-} ]] || { mkdir -p "$(dirname "$RESULTS")"; cat "$WORK/images.jsonl" >>"$RESULTS"; }
fi
echo "logs, samples and side-by-side PNGs: $WORK"
((${#failed[@]} == 0)) || { echo "run_bench_images.sh: failed: ${failed[*]}" >&2; exit 1; }
