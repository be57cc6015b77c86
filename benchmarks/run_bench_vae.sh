#!/usr/bin/env bash
# The VAE benchmark end to end: dgm's epoch time (the median of bench_vae's timed epochs)
# and GEMM floor (bench_vae), the PyTorch peer's epoch time (benchmarks/peers/torch_vae.py:
# the median of its timed epochs, under the fastest of its thread settings by that median),
# so peer / dgm compares two medians, and the checkpoint interchange check between the two
# in both directions.
#
# Usage: benchmarks/run_bench_vae.sh [--quick] [--no-peer] [--no-interchange]
# Environment:
#   BUILD_DIR     build folder (default build); configured Release and built if needed
#   JOBS          parallel build jobs (default 2)
#   BENCH_ARGS    arguments of bench_vae (default: --epochs 2; --quick adds --quick)
#   PEER_EPOCHS   timed epochs per peer setting, their median taken (default 1)
#   EVAL_SEEDS    seeds the test bounds are averaged over (default 3)
#   PYTHON        python with torch and safetensors (default /usr/bin/python3, Debian's)
#   WORK          folder for logs and checkpoints (default: a fresh one under /tmp)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-2}
BENCH_ARGS=${BENCH_ARGS:---epochs 2}
PEER_EPOCHS=${PEER_EPOCHS:-1}
EVAL_SEEDS=${EVAL_SEEDS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
PEER=$ROOT/benchmarks/peers/torch_vae.py
WORK=${WORK:-$(mktemp -d /tmp/dgm-bench-vae.XXXXXX)}
mkdir -p "$WORK"

quick=0 peer=1 interchange=1
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --no-peer) peer=0 ;;
    --no-interchange) interchange=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run_bench_vae.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
((quick)) && BENCH_ARGS="$BENCH_ARGS --quick"

# shellcheck source=bench_lib.sh
source "$ROOT/benchmarks/bench_lib.sh"

echo "== dgm bench_vae ($(date -u +%F), $(uname -m), load:$(uptime | sed 's/.*load average://'))"
load1=$(cut -d' ' -f1 /proc/loadavg)
if (( $(calc "int($load1 >= 1.5)") )); then
  echo "warning: 1-minute load is $load1: other work on the machine will inflate the timings"
fi

# ---- build ----
bench_build bench_vae
DGM=$BUILD_DIR/dgm
BENCH=$BUILD_DIR/benchmarks/bench_vae

# ---- dgm vs its GEMM floor ----
# shellcheck disable=SC2086
"$BENCH" $BENCH_ARGS | tee "$WORK/bench_vae.log"
dgm_s=$(jget "$WORK/bench_vae.log" device=cpu what=dgm seconds_per_epoch)
floor_s=$(jget "$WORK/bench_vae.log" device=cpu what=floor seconds_per_epoch)
[[ -n $dgm_s && -n $floor_s ]] ||
  { echo "run_bench_vae.sh: bench_vae gave no cpu results (BENCH_ARGS=$BENCH_ARGS)" >&2; exit 1; }

# ---- the PyTorch peer: torch threads x OpenBLAS threads ----
peer_best='' peer_cfg=''
if ((peer)); then
  "$PYTHON" -c "import torch, safetensors" ||
    { echo "the peer needs torch and safetensors for $PYTHON (apt-get install python3-torch;" \
           "pip install safetensors)"; exit 1; }
  echo
  echo "== PyTorch peer ($PEER_EPOCHS epoch(s) per setting)"
  printf '%-14s %-22s %s\n' "torch threads" "OPENBLAS_NUM_THREADS" "s/epoch (median epoch)"
  for t in 1 2; do
    for ob in 1 2; do
      log=$WORK/peer_t${t}_ob${ob}.log
      OPENBLAS_NUM_THREADS=$ob "$PYTHON" "$PEER" --epochs "$PEER_EPOCHS" --threads "$t" \
        --time-epoch >"$log"
      s=$(jget "$log" what=median_epoch seconds)
      printf '%-14s %-22s %.3f\n' "$t" "$ob" "$s"
      if [[ -z $peer_best ]] || (( $(calc "int($s < $peer_best)") )); then
        peer_best=$s peer_cfg="torch.set_num_threads($t), OPENBLAS_NUM_THREADS=$ob"
      fi
    done
  done
fi

echo
echo "== summary (cpu)"
printf 'dgm    %8.3f s/epoch (median epoch of bench_vae %s)\n' "$dgm_s" "$BENCH_ARGS"
printf 'floor  %8.3f s/epoch (the step'"'"'s sgemm calls, raw OpenBLAS)\n' "$floor_s"
printf 'dgm / floor = %.2f\n' "$(calc "$dgm_s / $floor_s")"
if [[ -n $peer_best ]]; then
  printf 'peer   %8.3f s/epoch (PyTorch %s, median epoch; fastest setting: %s)\n' "$peer_best" \
    "$("$PYTHON" -c 'import torch; print(torch.__version__)')" "$peer_cfg"
  printf 'peer / dgm = %.2f (median against median)\n' "$(calc "$peer_best / $dgm_s")"
  echo "json: {\"bench\":\"vae_summary\",\"dgm_s\":$dgm_s,\"floor_s\":$floor_s,\"peer_s\":$peer_best,\"peer_stat\":\"median\",\"peer_over_dgm\":$(calc "$peer_best / $dgm_s"),\"dgm_over_floor\":$(calc "$dgm_s / $floor_s")}"
fi

# ---- checkpoint interchange ----
status=0
if ((interchange)); then
  echo
  echo "== interchange: test negative ELBO (nats/sample, one z per x, mean of $EVAL_SEEDS seeds)"
  # dgm eval SEEDS...: mean of dgm's "elbo" over seeds 0..EVAL_SEEDS-1
  dgm_eval() {
    local sum=0 v
    for ((s = 0; s < EVAL_SEEDS; s++)); do
      v=$("$DGM" eval "$1" --data fashion-mnist --seed "$s" |
          "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["elbo"])')
      sum=$(calc "$sum + $v")
    done
    calc "$sum / $EVAL_SEEDS"
  }
  torch_eval() {
    "$PYTHON" "$PEER" --load "$1" --eval-seeds "$EVAL_SEEDS" >"$WORK/torch_eval.log"
    jget "$WORK/torch_eval.log" what=eval neg_elbo
  }
  check() { # label dgm_value torch_value
    local d ok
    d=$(calc "abs($2 - $3)")
    ok=$(calc "int($d <= 0.5)")
    printf '%-36s dgm eval %9.3f   torch %9.3f   |diff| %.3f  %s\n' "$1" "$2" "$3" "$d" \
      "$( ((ok)) && echo ok || echo 'FAILED (> 0.5)')"
    ((ok)) || status=1
  }
  "$DGM" train vae --data fashion-mnist --epochs 1 --out "$WORK/dgm-vae" >"$WORK/dgm_train.log"
  tail -2 "$WORK/dgm_train.log"
  ck=$WORK/dgm-vae/checkpoint.safetensors
  dgm_trained=$(dgm_eval "$ck")
  check "dgm-trained (dgm train, 1 epoch)" "$dgm_trained" "$(torch_eval "$ck")"
  "$PYTHON" "$PEER" --epochs 1 --save "$WORK/torch-vae.safetensors" >"$WORK/torch_train.log"
  tail -1 "$WORK/torch_train.log"
  ck=$WORK/torch-vae.safetensors
  peer_trained=$(dgm_eval "$ck")
  check "torch-trained (torch_vae.py --save)" "$peer_trained" "$(torch_eval "$ck")"
  # each side's quality after one epoch, both scored by dgm eval (the report's quality column)
  echo "json: {\"bench\":\"vae_quality\",\"epochs\":1,\"dgm_neg_elbo\":$dgm_trained,\"peer_neg_elbo\":$peer_trained}"
fi
echo
echo "logs and checkpoints: $WORK"
exit $status
